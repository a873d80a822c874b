"""The cap gate's mutex wait is bounded (ActiveSyncCapMutexWait): a holder
of the activesync-cap mutex that never releases it does not stall first
admissions.  With the flock mechanism the mutex is a file the test can
lock itself, from outside httpd, exactly as a stuck holder would.  The next
first admission gets 503 with Retry-After within the bound and one log
line; registered accounts are decided without the mutex and stay served;
once the holder lets go, the refused account is admitted.  Without the
bound the first admission would hang for as long as the holder does (here:
until the client's timeout)."""

import fcntl
import glob
import os
import time

import pytest

import httpdconf
from caputil import account, finish, start_cap_server

WAIT_MS = 400


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_stuck_cap_mutex_holder_gets_503_within_the_bound(run_dir, module_path, sanitize, pki,
                                                          mpm):
    lockdir = os.path.join(run_dir, "test_cap_mutex-%s-locks" % mpm)
    os.makedirs(lockdir, exist_ok=True)
    os.chmod(lockdir, 0o777)
    extra = "Mutex flock:%s activesync-cap\nActiveSyncCapMutexWait %d\n" % (lockdir, WAIT_MS)
    srv = start_cap_server(run_dir, "test_cap_mutex", module_path, mpm, sanitize, pki, 4,
                           cap=10, extra=extra)
    try:
        assert srv.post(account(0)) == 200  # registered before the mutex gets stuck
        files = glob.glob(os.path.join(lockdir, "activesync-cap*"))
        assert len(files) == 1, files
        fd = os.open(files[0], os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the holder that never releases
            mark = srv.log_mark()
            t0 = time.monotonic()
            r = srv.eas(account(1)).post(body=srv.request_body)
            took = time.monotonic() - t0
            print("503 after %.3f s (ActiveSyncCapMutexWait %d ms)" % (took, WAIT_MS))
            assert r.status == 503, r
            assert r.header("Retry-After") == "5", r
            assert took < WAIT_MS / 1000.0 + 2.0, took
            assert took >= WAIT_MS / 1000.0 - 0.05, took  # it did wait for the holder
            lines = [ln for ln in srv.our_lines(mark) if "ASY12045" in ln]
            assert len(lines) == 1, srv.our_lines(mark)
            assert account(1) in lines[0] and "activesync-cap" in lines[0], lines
            # The read-only path takes no mutex: the registered account is served.
            assert srv.post(account(0)) == 200
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        assert srv.post(account(1)) == 200
        assert srv.registered() == {account(0), account(1)}
    finally:
        finish(srv, allow_5xx=True)
