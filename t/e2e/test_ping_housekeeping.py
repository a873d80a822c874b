"""A parked Ping keeps its heartbeat when its child retires for the event
MPM's housekeeping, and is still cut short by a restart or a stop.

Two ways to make a child retire with parked Pings inside:
  - MaxSpareThreads (the MPM's housekeeping proper): four children of four
    threads and six parked Pings leave ten idle threads, more than
    MaxSpareThreads 8, so the parent retires one child within a second or
    two.  Which child reads the parent's request is up to the MPM, so a
    round may retire a child without Pings; the test takes up to five
    fresh servers to see one with Pings inside (a retired child holds none
    of six Pings in about one round in three) and is reported skipped, not
    failed, when the MPM never picks one: every round still checks that no
    Ping was cut short.
  - MaxConnectionsPerChild 1, deterministic (below).

A child that retires while the server runs on -- more idle threads than
MaxSpareThreads, or MaxConnectionsPerChild reached -- stops gracefully: the
MPM state turns STOPPING exactly as on a graceful restart, and before this
was told apart every parked Ping of that child answered "no change" within
about a second.  MaxConnectionsPerChild 1 makes the retirement certain and
immediate: every child that accepts a Ping's connection stops at once, by
the same graceful path (same hook, same MPM state, same generation) as a
MaxSpareThreads retirement.  The Pings must last their whole heartbeat.
Then a graceful stop (SIGWINCH: same generation, graceful, only the
PidFile goes) must still wake a parked Ping within a few seconds, instead
of holding the server for the heartbeat."""

import concurrent.futures
import os
import signal
import time

import pytest

from caputil import wait_until
from e2eharness import check_clean_shutdown, standard_body, start_server
from test_longpoll import inbox_id, ping

HEARTBEAT = 12
NPINGS = 6

MPM = """
<IfModule mpm_event_module>
    ServerLimit 16
    StartServers 2
    ThreadLimit 4
    ThreadsPerChild 4
    MaxRequestWorkers 64
    MinSpareThreads 4
    MaxSpareThreads 8
    MaxConnectionsPerChild 1
</IfModule>
"""


SPARE = """
<IfModule mpm_event_module>
    ServerLimit 16
    StartServers 4
    ThreadLimit 4
    ThreadsPerChild 4
    MaxRequestWorkers 64
    MinSpareThreads 4
    MaxSpareThreads 8
</IfModule>
"""


def test_max_spare_threads_retirement_keeps_parked_pings(run_dir, module_path, sanitize, pki):
    for attempt in range(5):
        srv = start_server(run_dir, "test_ping_spare%d" % attempt, module_path, "event", sanitize,
                           pki, body_fn=lambda r, p, k: standard_body(r, p, k) +
                           "\nActiveSyncPingHeartbeat 2 600\n" + SPARE)
        try:
            clients = [srv.client().with_(device_id="SPARE%d" % i) for i in range(6)]
            folders = [inbox_id(c) for c in clients]
            mark = srv.log_mark()
            with concurrent.futures.ThreadPoolExecutor(6) as ex:
                futs = [ex.submit(ping, c, HEARTBEAT, f) for c, f in zip(clients, folders)]
                results = [f.result(timeout=HEARTBEAT + 30) for f in futs]
            for status, _, took in results:
                assert status == "1", results
                assert took >= HEARTBEAT - 0.5, results  # never cut short
            lines = [ln for ln in srv.log_since(mark).splitlines()
                     if "ASY10002" in ln and " 0 parked" not in ln]
            assert not check_clean_shutdown(srv)
        finally:
            srv.stop()
        print("round %d: %s" % (attempt + 1, lines or "no child with parked Pings retired"))
        if lines:
            return
    # Every round checked that no Ping was cut short; which child the MPM
    # retires is not ours to choose, so a run where it never picked one with
    # Pings inside says so instead of failing on chance (the path itself is
    # covered deterministically by the MaxConnectionsPerChild test below).
    pytest.skip("in five rounds the MPM retired only children without parked Pings")


def body(root, port, pki):
    return standard_body(root, port, pki) + "\nActiveSyncPingHeartbeat 2 600\n" + MPM


@pytest.fixture
def server(request, run_dir, module_path, sanitize, pki):
    srv = start_server(run_dir, request.node.name, module_path, "event", sanitize, pki,
                       body_fn=body, loglevel="warn activesync:debug")
    yield srv
    srv.stop()


def test_retiring_child_keeps_parked_pings(server):
    clients = [server.client().with_(device_id="HOUSEKEEP%d" % i) for i in range(NPINGS)]
    folders = [inbox_id(c) for c in clients]
    mark = server.log_mark()
    with concurrent.futures.ThreadPoolExecutor(NPINGS) as ex:
        futs = [ex.submit(ping, c, HEARTBEAT, f) for c, f in zip(clients, folders)]
        results = [f.result(timeout=HEARTBEAT + 30) for f in futs]
    for status, _, took in results:
        assert status == "1", results
        assert took >= HEARTBEAT - 0.5, results  # not cut short by the retirement
    # The retirements did happen, with parked Pings inside.
    lines = [ln for ln in server.log_since(mark).splitlines() if "ASY10002" in ln]
    assert lines, server.tail_error_log()
    assert any(" 0 parked" not in ln for ln in lines), lines
    assert not check_clean_shutdown(server)


def test_graceful_stop_still_wakes_parked_ping(server):
    c = server.client().with_(device_id="HOUSEKEEPSTOP")
    folder = inbox_id(c)
    mark = server.log_mark()
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(ping, c, 300, folder)
        # Parked, and its child retiring already (MaxConnectionsPerChild 1).
        assert wait_until(lambda: [ln for ln in server.log_since(mark).splitlines()
                                   if "ASY10002" in ln and " 1 parked" in ln], 30), \
            server.tail_error_log()
        assert not fut.done()
        t0 = time.monotonic()
        os.kill(server.pid(), signal.SIGWINCH)  # apache2 -k graceful-stop
        try:
            status = fut.result(timeout=20)[0]
        except Exception:  # the connection may be closed by the stop
            status = None
        took = time.monotonic() - t0
    assert status in ("1", None)
    assert took < 5, took
