"""End-to-end test harness: a private httpd with mod_activesync per test
module and MPM.

Environment (set by `make check-e2e`):
  AS_MODULE    path of mod_activesync.so (required; tests are skipped without)
  AS_TOOLS     directory of the test tools (as-wbxml), optional
  AS_SANITIZE  1: the module is an ASan/UBSan build; httpd runs with libasan
               preloaded and no sanitizer report may appear

The conformance kit (../shared/conformance, validate-eas) and the real
clients (../shared/clients) are used when they are beside the repository;
without them those checks are skipped (sharedkit.py) and each test that
skipped one is reported as skipped, with the reason, after the rest of it
has run.

Every test module gets one server per MPM (event, prefork) with the
configuration below, started before its first test and stopped after its
last; tests never depend on each other's leftovers.  After stopping, the
fixture asserts: no crash in any error log, no 5xx in the access log, no
sanitizer report.  Generated files live in t/gen/e2e-<pid>-<time>/, removed
after a run without failures.
"""

import glob
import hashlib
import os
import shutil
import time

import pytest

import httpdconf
import sharedkit
from e2eharness import GEN, Pki, check_clean_shutdown, start_server


def pytest_report_header(config):
    return "mod_activesync e2e: AS_MODULE=%s AS_SANITIZE=%s AS_TOOLS=%s" % (
        os.environ.get("AS_MODULE"), os.environ.get("AS_SANITIZE", "0"),
        os.environ.get("AS_TOOLS"))


@pytest.fixture(autouse=True)
def shared_kit_checks():
    """Report a test whose kit checks (../shared) were skipped as skipped,
    after it ran: pytest counts it under "skipped" with the reason.  (Checks
    skipped while a module fixture started are reported with the first test.)"""
    yield
    reason = sharedkit.take_skipped()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def module_path():
    m = os.environ.get("AS_MODULE")
    if not m:
        pytest.skip("AS_MODULE is not set (run `make check-e2e`)")
    if not os.path.exists(m):
        pytest.fail("AS_MODULE=%s does not exist" % m)
    if os.geteuid() != 0:
        pytest.skip("the e2e tests start httpd as root (User www-data)")
    return os.path.abspath(m)


@pytest.fixture(scope="session")
def sanitize():
    return os.environ.get("AS_SANITIZE", "0") == "1"


_RUN_DIR = None


@pytest.fixture(scope="session")
def run_dir():
    global _RUN_DIR
    d = os.path.join(GEN, "e2e-%d-%d" % (os.getpid(), int(time.time())))
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    os.chmod(GEN, 0o755)
    _RUN_DIR = d
    return d


def _remove_push_claims(run_dir):
    """The servers' push claims live on /dev/shm, keyed by their data
    directory (mailutil.claim_dir): remove those of this run's servers
    (ROOT/NAME/data and ROOT/NAME/NAME2/data), so runs leave nothing there."""
    for pattern in ("*/data", "*/*/data"):
        for datadir in glob.glob(os.path.join(run_dir, pattern)):
            real = os.path.realpath(datadir)
            d = hashlib.sha256(real.encode()).hexdigest()[:16]
            shutil.rmtree(os.path.join("/dev/shm", "mod_activesync-" + d), ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    if _RUN_DIR:
        _remove_push_claims(_RUN_DIR)
    if _RUN_DIR and session.testsfailed == 0 and exitstatus == 0:
        shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(run_dir):
    return Pki(os.path.join(run_dir, "pki"))


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def server(request, run_dir, module_path, sanitize, pki):
    name = request.module.__name__.rsplit(".", 1)[-1]
    srv = start_server(run_dir, name, module_path, request.param, sanitize, pki)
    yield srv
    srv.stop()
    problems = check_clean_shutdown(srv)
    assert not problems, "server %s (%s) was not clean:\n%s" % (
        name, request.param, "\n".join(problems))


@pytest.fixture
def client(server):
    return server.client()


@pytest.fixture
def mpm(server):
    return server.mpm
