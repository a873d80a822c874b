"""build/demo-server: starts a working server with the demo account and a
sample Maildir, and stops it by pid."""

import email
import email.policy
import os
import subprocess

import pytest

import easclient
import httpdconf
from e2eharness import REPO

DEMO = os.path.join(REPO, "build", "demo-server")
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"


def local(el):
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def find_all(el, name):
    return [e for e in el.iter() if local(e) == name]


def find_text(el, name):
    found = find_all(el, name)
    return found[0].text if found else None


def check_demo_collections(c):
    """A phone provisions, finds the default address book, calendar, task
    list and notes in the hierarchy, and gets the demo's twelve contacts,
    its calendar (the weekly meeting with its moved and cancelled instances,
    the all-day holiday and the yearly birthday) and its two tasks."""
    c = c.with_(device_id="DEMOCHECK01", device_type="E2EPhone", version="14.1")
    r = c.post("Provision", xml='<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
               '%s</PolicyType></Policy></Policies></Provision>' % POLICY_TYPE)
    temp = find_text(easclient.decode_reply(r.body), "PolicyKey")
    r = c.post("Provision", xml='<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
               '%s</PolicyType><PolicyKey>%s</PolicyKey><Status>1</Status></Policy></Policies>'
               '</Provision>' % (POLICY_TYPE, temp), headers={"X-MS-PolicyKey": temp})
    key = find_text(easclient.decode_reply(r.body), "PolicyKey")
    h = {"X-MS-PolicyKey": key}
    r = c.post("FolderSync", xml='<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
               '</FolderSync>', headers=h)
    folders = {find_text(a, "Type"): find_text(a, "ServerId")
               for a in find_all(easclient.decode_reply(r.body), "Add")}
    assert {"2", "7", "8", "9", "10"} <= set(folders), folders

    def sync(folder_type):
        """The initial sync of a folder: the Adds of its first page."""
        doc = None
        for extra in ("", "<GetChanges>1</GetChanges><WindowSize>100</WindowSize>"):
            key = find_text(doc, "SyncKey") if doc is not None else "0"
            r = c.post("Sync", xml='<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>'
                       '%s</SyncKey><CollectionId>%s</CollectionId>%s</Collection>'
                       '</Collections></Sync>' % (key, folders[folder_type], extra), headers=h)
            assert r.status == 200, r
            doc = easclient.decode_reply(r.body)
        return find_all(doc, "Add")

    names = sorted(find_text(a, "FileAs") or "" for a in sync("9"))
    assert len(names) == 12 and all(names), names
    assert any("Tanaka" in n for n in names) and "Isabel Rossi" in names, names
    events = {find_text(a, "Subject"): a for a in sync("8")}
    assert set(events) == {"Team meeting", "Lunch with Alice", "Company holiday",
                           "Isabel Rossi's birthday"}, set(events)
    weekly = events["Team meeting"]
    assert (find_text(weekly, "Recurrence_Type"), find_text(weekly, "Recurrence_Occurrences")) == \
        ("1", "10")
    assert find_text(weekly, "MeetingStatus") == "1"  # organised by the demo account
    excs = find_all(weekly, "Exception")
    assert sorted(find_text(e, "Exception_Deleted") or "0" for e in excs) == ["0", "1"], excs
    moved, = [e for e in excs if find_text(e, "Exception_Deleted") != "1"]
    assert find_text(moved, "Subject") == "Team meeting (moved to Tuesday)"
    bday = events["Isabel Rossi's birthday"]
    assert find_text(bday, "AllDayEvent") == "1"
    assert (find_text(bday, "Recurrence_Type"), find_text(bday, "Recurrence_DayOfMonth"),
            find_text(bday, "Recurrence_MonthOfYear")) == ("5", "28", "2")  # yearly on a date
    assert find_text(events["Company holiday"], "AllDayEvent") == "1"
    tasks = {find_text(a, "Subject"): find_text(a, "Complete") for a in sync("7")}
    assert tasks == {"Submit the expense report": "0", "Book the flights": "1"}, tasks


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_demo_server(run_dir, module_path, sanitize, mpm):
    root = os.path.join(run_dir, "demo-" + mpm)
    port = httpdconf.free_port()
    env = dict(os.environ, DEMO_ROOT=root, DEMO_PORT=str(port), DEMO_MPM=mpm,
               AS_SANITIZE="1" if sanitize else "0")
    p = subprocess.run([DEMO, "start", module_path], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    h = httpdconf.Httpd(root, port=port, sanitize=sanitize)
    pid = h.pid()
    try:
        out = p.stdout
        assert "http://127.0.0.1:%d/Microsoft-Server-ActiveSync" % port in out
        assert "demo@example.com" in out and "password:  demo" in out
        assert "curl -i -u demo@example.com:demo -X OPTIONS" in out
        c = easclient.EasClient(port, user="demo@example.com", password="demo")
        r = c.options()
        assert r.status == 200 and r.header("MS-ASProtocolVersions")
        assert easclient.EasClient(port, user="demo@example.com", password="x").options() \
            .status == 401
        r = c.post(xml='<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD'
                       '</Certificate></Certificates></ValidateCert>')
        assert r.status == 200
        easclient.decode_reply(r.body)
        check_demo_collections(c)
        # A second start refuses while one runs.
        p2 = subprocess.run([DEMO, "start", module_path], env=env, capture_output=True,
                            text=True)
        assert p2.returncode != 0 and "already running" in p2.stderr
    finally:
        s = subprocess.run([DEMO, "stop"], env=env, capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    assert not h._alive(pid)
    assert not h._instance_pids()
    assert not h.sanitizer_reports()

    md = os.path.join(root, "mail", "example.com", "demo", "Maildir")
    for folder in ("", ".Sent", ".Drafts", ".Trash"):
        for sub in ("cur", "new", "tmp"):
            assert os.path.isdir(os.path.join(md, folder, sub))
    msgs = []
    for dirpath, _, files in os.walk(md):
        if os.path.basename(dirpath) in ("cur", "new"):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    msgs.append((dirpath, f, email.message_from_binary_file(
                        fh, policy=email.policy.default)))
    assert len(msgs) >= 5
    for d, f, m in msgs:
        assert m["Message-ID"] and m["Date"] and m["From"] and m["Subject"], f
        if os.path.basename(d) == "cur":
            assert ":2," in f
    atts = [a.get_filename() for _, _, m in msgs for a in m.iter_attachments()]
    assert "q2-figures.csv" in atts and "chart.png" in atts
