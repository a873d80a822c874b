"""The parent's wedge watch (ActiveSyncWedgeRemedy, mod_activesync_wedge.c).

A wedge is simulated with the test hook AS_TEST_WEDGE_FILE: the child whose
maintenance thread finds the trigger file holds DATADIR/as_open.lock until
it exits, which is what the parent sees of a child stuck in failchk on a
dead process's Berkeley DB mutex.  The parent looks from its monitor hook
(about every 10 s) and calls it a wedge after 10 s.

- Off: one line says what the remedy would do; no child is killed, and
  ActiveSync keeps answering (nothing in this simulation is really stuck).
- On: the line naming the children to stop comes first, then exactly those
  children are gone, then the helper's "recovered" line; the server serves
  again afterwards.
"""

import os
import re
import time

import pytest

import httpdconf
from caputil import account, finish, start_cap_server, wait_until

WEDGE_TIMEOUT = 60  # 10 s to call it a wedge + up to ~10 s to the next monitor run + slack


def start(run_dir, module_path, sanitize, pki, mpm, remedy, monkeypatch):
    name = "test_wedge_%s" % ("on" if remedy else "off")
    trigger_dir = os.path.join(run_dir, "%s-%s-trigger" % (name, mpm))
    os.makedirs(trigger_dir, exist_ok=True)
    os.chmod(trigger_dir, 0o777)  # the child (www-data) removes the trigger
    trigger = os.path.join(trigger_dir, "wedge")
    monkeypatch.setenv("AS_TEST_WEDGE_FILE", trigger)
    srv = start_cap_server(run_dir, name, module_path, mpm, sanitize, pki, 4,
                           extra="ActiveSyncWedgeRemedy %s\n" % ("On" if remedy else "Off"))
    return srv, trigger


def wedge(srv, trigger):
    """Have one child hold the open lock; its pid."""
    mark = srv.log_mark()
    open(trigger, "w").close()
    line = wait_until(lambda: [ln for ln in srv.our_lines(mark) if "ASY12044" in ln], 15)
    assert line, srv.tail_error_log()
    return int(re.search(r"child (\d+) simulates", line[0]).group(1)), mark


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_remedy_off_logs_and_kills_nothing(run_dir, module_path, sanitize, pki, mpm,
                                           monkeypatch):
    srv, trigger = start(run_dir, module_path, sanitize, pki, mpm, False, monkeypatch)
    try:
        assert srv.post(account(0)) == 200
        holder, mark = wedge(srv, trigger)
        children = srv.children()
        assert holder in children
        lines = wait_until(lambda: [ln for ln in srv.our_lines(mark) if "ASY12043" in ln],
                           WEDGE_TIMEOUT)
        assert lines, srv.tail_error_log()
        assert "ActiveSyncWedgeRemedy Off: nothing is done" in lines[0]
        assert "child %d " % holder in lines[0]
        assert str(holder) in re.search(r"pids ([\d ]+)", lines[0]).group(1).split()
        # Nothing was stopped: the same children, all alive; no remedy line.
        assert all(alive(p) for p in children)
        assert srv.children() == children
        assert not [ln for ln in srv.our_lines(mark) if "ASY12031" in ln or "ASY12036" in ln]
        assert srv.post(account(1)) == 200
    finally:
        finish(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_remedy_on_logs_first_then_stops_only_the_attached(run_dir, module_path, sanitize, pki,
                                                           mpm, monkeypatch):
    srv, trigger = start(run_dir, module_path, sanitize, pki, mpm, True, monkeypatch)
    try:
        assert srv.post(account(0)) == 200
        holder, mark = wedge(srv, trigger)
        before = srv.children()
        text = wait_until(lambda: "ASY12036" in srv.log_since(mark) and srv.log_since(mark),
                          WEDGE_TIMEOUT)
        assert text, srv.tail_error_log()
        ours = [ln for ln in text.splitlines() if "[activesync:" in ln]
        plan = [i for i, ln in enumerate(ours) if "ASY12031" in ln]
        done = [i for i, ln in enumerate(ours) if "ASY12036" in ln]
        assert len(plan) == 1 and len(done) == 1 and plan[0] < done[0], ours
        line = ours[plan[0]]
        targets = [int(p) for p in re.search(r"\(pids ([\d ]+);", line).group(1).split()]
        assert holder in targets
        # Exactly the listed children are gone; every listed one was a child.
        assert set(targets) <= set(before)
        assert not any(alive(p) for p in targets)
        left_alone = int(re.search(r"; (\d+) other children are left alone", line).group(1))
        assert left_alone == len(before) - len(targets)
        for p in set(before) - set(targets):
            assert alive(p), p
        # Fresh children open the recovered environment and serve.
        assert wait_until(lambda: srv.post(account(1)) == 200, 30)
        assert srv.registered() == {account(0), account(1)}
    finally:
        finish(srv, allow_5xx=True)
