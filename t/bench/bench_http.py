#!/usr/bin/python3
"""HTTP benchmark of mod_activesync, measured side by side in one httpd.

Starts one private httpd (event MPM) with the module, and measures with wrk,
interleaved so machine noise hits both sides alike:
  - OPTIONS on /Microsoft-Server-ActiveSync against GET of an empty static
    file behind the same Basic authentication;
  - the smallest implemented POST command (ValidateCert of one certificate
    against a one-CA trust file) against GET of a static file of the same
    size as its reply, behind the same authentication.
Prints requests per second and the module/static ratios.  Any non-2xx
answer fails the benchmark.

One more pair measures the cap gate's admission decision under contention
(DESIGN §1): ValidateCert POSTs, each by another account, for accounts never
seen (first admission: the registry's write transaction under the
activesync-cap mutex, whose commit the counter lock serialises) against
accounts already registered (the read-only check, which takes no mutex).  The decision time is measured
inside the module (trace1 line ASY12028: from before the mutex to after the
decision, and the mutex wait alone) and given as percentiles, with the
decisions per second of each run.  Each account is used once in the
first-admission run; the registered run cycles over accounts registered
beforehand.

Env: AS_MODULE (built module), AS_ADMIN (activesync-admin, default next to
the module), BENCH_SECONDS (per run, default 5), BENCH_CONNECTIONS (default
16), BENCH_ROUNDS (default 3), BENCH_ADMISSIONS (fresh accounts available to
the first-admission run, default 20000).
"""

import base64
import dbm.ndbm
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import easclient  # noqa: E402
import httpdconf  # noqa: E402
from e2eharness import Pki, prepare_datadir  # noqa: E402

USER, PASSWORD = "bench@example.com", "bench-Pw-1"
SECONDS = os.environ.get("BENCH_SECONDS", "5")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ADMISSIONS = int(os.environ.get("BENCH_ADMISSIONS", "20000"))
REGISTERED = 2000
# httpd's own default on Debian (the e2e template sets file: for all).
MUTEX = os.environ.get("BENCH_MUTEX", "pthread")
WRK_THREADS = 2
ADM_PASSWORD = "adm-Pw-1"

WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
local body = f:read("*a")
f:close()
wrk.method = os.getenv("BENCH_METHOD")
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
if #body > 0 then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/vnd.ms-sync.wbxml"
  wrk.headers["MS-ASProtocolVersion"] = "14.1"
end
"""


# Each request by the next account of a list ("user<TAB>Authorization"):
# thread t takes accounts t, t+T, t+2T...  BENCH_MODE=once: an account is
# used once, then the thread falls back to a static GET (not a decision);
# cycle: round and round.
ADM_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  users, auths = {}, {}
  for line in io.lines(os.getenv("BENCH_ACCOUNTS")) do
    local u, a = line:match("^(.-)\t(.*)$")
    users[#users + 1] = u
    auths[#auths + 1] = a
  end
  local f = io.open(os.getenv("BENCH_BODY"), "rb")
  body = f:read("*a")
  f:close()
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  once = os.getenv("BENCH_MODE") == "once"
  path = os.getenv("BENCH_PATH")
  static_auth = os.getenv("BENCH_AUTH")
  i = 0
end
function request()
  local k = tid + i * nthreads
  i = i + 1
  if k >= #users then
    if once then
      return wrk.format("GET", "/static/empty", {["Authorization"] = static_auth})
    end
    k = k % #users
  end
  return wrk.format("POST", path .. "?Cmd=ValidateCert&User=" .. users[k + 1] ..
                    "&DeviceId=BENCHDEV&DeviceType=Bench",
                    {["Authorization"] = auths[k + 1],
                     ["Content-Type"] = "application/vnd.ms-sync.wbxml",
                     ["MS-ASProtocolVersion"] = "14.1"}, body)
end
"""


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def accounts_file(root, name, users):
    path = os.path.join(root, name + ".accounts")
    with open(path, "w") as f:
        for u in users:
            f.write("%s\t%s\n" % (u, basic(u, ADM_PASSWORD)))
    return path


def wrk_accounts(url_base, path, accounts, body_file, mode, auth, script):
    env = dict(os.environ, BENCH_ACCOUNTS=accounts, BENCH_BODY=body_file, BENCH_MODE=mode,
               BENCH_THREADS=str(WRK_THREADS), BENCH_PATH=path, BENCH_AUTH=auth)
    out = subprocess.run(["wrk", "-t%d" % WRK_THREADS, "-c" + CONNECTIONS,
                          "-d" + SECONDS + "s", "-s", script, url_base], env=env,
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit("bench: errors during the admission run (%s):\n%s" % (mode, out))
    return out


DECISION_RE = re.compile(r"admission (\w[\w-]*) in (\d+) us \(mutex wait (\d+) us, ")


def decisions(text):
    """(result, total us, mutex wait us) of every trace1 decision line."""
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in DECISION_RE.finditer(text)]


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def describe(label, ds, seconds):
    tot = [d[1] for d in ds]
    wait = [d[2] for d in ds]
    print("  %-22s %6d decisions %8.0f/s  us: p50 %6d p90 %6d p99 %6d max %7d"
          "   mutex wait p50 %6d p99 %6d" % (
              label, len(ds), len(ds) / seconds, pct(tot, 50), pct(tot, 90), pct(tot, 99),
              max(tot) if tot else 0, pct(wait, 50), pct(wait, 99)))
    return pct(tot, 50)


def wrk(url, method, body_file, auth, script):
    env = dict(os.environ, BENCH_METHOD=method, BENCH_BODY=body_file, BENCH_AUTH=auth)
    out = subprocess.run(["wrk", "-t2", "-c" + CONNECTIONS, "-d" + SECONDS + "s", "-s", script,
                          url], env=env, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    nerr = sum(int(x) for x in errors.groups()) if errors else 0
    # A few read errors are connections the event MPM closes at its own
    # pace; anything else, or a non-2xx answer, spoils the measurement.
    if "Non-2xx" in out or nerr > total / 1000:
        raise SystemExit("bench: errors during the run of %s %s:\n%s" % (method, url, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    module = os.environ["AS_MODULE"]
    os.environ.setdefault("AS_ADMIN", os.path.join(os.path.dirname(module), "activesync-admin"))
    root = tempfile.mkdtemp(prefix="mod_activesync-bench-")
    os.chmod(root, 0o755)
    pki = Pki(os.path.join(root, "pki"))
    srv = httpdconf.Httpd(root)
    htpasswd = os.path.join(root, "conf", "htpasswd")
    # {SHA}: the cheapest scheme htpasswd offers, so authentication does not
    # drown what is measured.  Both sides pay it alike.
    subprocess.run(["htpasswd", "-b", "-c", "-s", htpasswd, USER, PASSWORD], check=True,
                   capture_output=True)
    os.chmod(htpasswd, 0o644)
    # The admission accounts (tens of thousands) authenticate from a
    # Berkeley DB hash file (mod_authn_dbm: one lookup, where authn_file
    # would read a long file linearly and measure itself) in their own
    # location, whose decisions are logged at trace1 with their timing.
    fresh = ["new%05d@example.com" % i for i in range(ADMISSIONS)]
    known = ["reg%05d@example.com" % i for i in range(REGISTERED)]
    adm_users = os.path.join(root, "conf", "adm-users")
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(ADM_PASSWORD.encode()).digest()).decode()
    with dbm.ndbm.open(adm_users, "n", 0o644) as d:  # Berkeley DB hash: adm-users.db
        for u in fresh + known:
            d[u.encode()] = sha.encode()
    datadir = prepare_datadir(os.path.join(root, "data"), ("example.com",))
    adm_path = "/adm" + httpdconf.EAS_PATH
    adm_location = (
        "LoadModule authn_dbm_module %s/mod_authn_dbm.so\n"
        "<Location %s>\n    SetHandler activesync\n    AuthType Basic\n"
        '    AuthName "ActiveSync"\n    AuthBasicProvider dbm\n    AuthDBMType DB\n'
        '    AuthDBMUserFile "%s.db"\n    Require valid-user\n'
        "    LogLevel warn activesync:trace1\n</Location>\n"
        % (httpdconf.MODULES_DIR, adm_path, adm_users))
    static_auth = (
        "<Location /static>\n    AuthType Basic\n    AuthName \"ActiveSync\"\n"
        "    AuthBasicProvider file\n    AuthUserFile \"%s\"\n    Require valid-user\n"
        "</Location>\n" % htpasswd)
    # Unlimited keep-alive and a fixed pool of children: wrk counts a
    # connection closed by the server (keep-alive limit, a child retired by
    # the MPM) as an error.
    # Workers well above the connection count, or the event MPM closes
    # keep-alive connections to free workers.
    body = ("MaxKeepAliveRequests 0\nServerLimit 4\nThreadLimit 16\nThreadsPerChild 16\n"
            "MaxRequestWorkers 64\nStartServers 4\nMinSpareThreads 32\nMaxSpareThreads 64\n"
            "ActiveSync On\nActiveSyncProvisioning Off\nActiveSyncDefaultDomain example.com\n"
            "ActiveSyncDataDir \"%s\"\n" % datadir + "Mutex %s activesync-cap\n" % MUTEX +
            "ActiveSyncTrustedCAFile \"%s\"\nAlias /static \"%s/htdocs\"\n" % (pki.ca_file, root)
            + httpdconf.activesync_location(htpasswd) + static_auth + adm_location)
    srv.write_conf(module, mpm="event", body=body, loglevel="warn")
    srv.start()
    try:
        client = easclient.EasClient(srv.port, user=USER, password=PASSWORD)
        xml = ("<ValidateCert xmlns=\"ValidateCert:\"><Certificates><Certificate>%s"
               "</Certificate></Certificates></ValidateCert>" % pki.der_b64("leaf"))
        request = easclient.encode(xml)
        reply = client.post("ValidateCert", body=request)
        assert reply.status == 200, reply
        statuses = re.findall(rb"<Status>(\d+)</Status>", easclient.decode_libwbxml(reply.body))
        assert statuses == [b"1", b"1"], statuses
        query = easclient.plain_query("ValidateCert", USER)

        files = {}
        for name, data in (("empty", b""), ("request", request), ("reply", reply.body)):
            files[name] = os.path.join(root, name + ".bin")
            with open(files[name], "wb") as f:
                f.write(data)
        shutil.copy(files["empty"], os.path.join(root, "htdocs", "empty"))
        shutil.copy(files["reply"], os.path.join(root, "htdocs", "reply"))
        for d in ("htdocs",):
            for n in os.listdir(os.path.join(root, d)):
                os.chmod(os.path.join(root, d, n), 0o644)
        script = os.path.join(root, "bench.lua")
        with open(script, "w") as f:
            f.write(WRK_SCRIPT)
        script_adm = os.path.join(root, "bench-adm.lua")
        with open(script_adm, "w") as f:
            f.write(ADM_SCRIPT)
        auth = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        base = "http://127.0.0.1:%d" % srv.port
        eas = base + httpdconf.EAS_PATH
        pairs = [
            ("OPTIONS", ("OPTIONS", eas, files["empty"]),
             ("GET", base + "/static/empty", files["empty"])),
            ("ValidateCert POST", ("POST", eas + "?" + query, files["request"]),
             ("GET", base + "/static/reply", files["empty"])),
        ]
        print("http: wrk -t2 -c%s -d%ss, %d interleaved rounds, event MPM, Basic auth "
              "({SHA}) on both sides" % (CONNECTIONS, SECONDS, ROUNDS))
        for label, mod, static in pairs:
            m_runs, s_runs = [], []
            for _ in range(ROUNDS):
                s_runs.append(wrk(static[1], static[0], static[2], auth, script))
                m_runs.append(wrk(mod[1], mod[0], mod[2], auth, script))
            m, s = sorted(m_runs)[ROUNDS // 2], sorted(s_runs)[ROUNDS // 2]
            print("  %-18s %9.0f req/s   static %9.0f req/s   ratio %.2f" % (label, m, s, m / s))
        print("  (ValidateCert reply %d bytes, request %d bytes)" % (len(reply.body),
                                                                      len(request)))

        # ---- admission decisions -------------------------------------------
        # The registered side: accounts admitted beforehand, one request each.
        import concurrent.futures
        def admit(u):
            c = easclient.EasClient(srv.port, user=u, password=ADM_PASSWORD, path=adm_path)
            return c.post("ValidateCert", body=request).status
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            st = list(ex.map(admit, known))
        assert set(st) == {200}, set(st)
        fresh_file = accounts_file(root, "fresh", fresh)
        known_file = accounts_file(root, "known", known)
        print("admission: wrk -t%d -c%s -d%ss, one ValidateCert POST per decision, each by "
              "another account; time inside the module (trace1), including the wait for "
              "the activesync-cap mutex (Mutex %s)" % (WRK_THREADS, CONNECTIONS, SECONDS, MUTEX))
        results = {}
        for label, mode, acc in (("first admission", "once", fresh_file),
                                 ("registered account", "cycle", known_file)):
            mark = srv.log_mark()
            wrk_accounts(base, adm_path, acc, files["request"], mode, auth, script_adm)
            ds = decisions(srv.log_since(mark))
            want = "admitted" if mode == "once" else "served"
            assert ds and all(d[0] == want for d in ds), set(d[0] for d in ds)
            if mode == "once" and len(ds) >= len(fresh):
                print("  (BENCH_ADMISSIONS=%d was used up: raise it)" % len(fresh))
            results[label] = describe(label, ds, float(SECONDS))
        print("  ratio of the medians, first admission / registered: %.1f" % (
            results["first admission"] / max(1, results["registered account"])))
        count = subprocess.run([os.environ["AS_ADMIN"], "-d", datadir, "--json", "mailbox",
                                "count"], capture_output=True, text=True, check=True).stdout
        print("  registry afterwards: %s" % count.strip())
    finally:
        srv.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("bench: kept", root)


if __name__ == "__main__":
    main()
