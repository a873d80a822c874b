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

Env: AS_MODULE (built module), BENCH_SECONDS (per run, default 5),
BENCH_CONNECTIONS (default 16), BENCH_ROUNDS (default 3).
"""

import base64
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
from e2eharness import Pki  # noqa: E402

USER, PASSWORD = "bench@example.com", "bench-Pw-1"
SECONDS = os.environ.get("BENCH_SECONDS", "5")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

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
            "ActiveSync On\nActiveSyncDefaultDomain example.com\n"
            "ActiveSyncTrustedCAFile \"%s\"\nAlias /static \"%s/htdocs\"\n" % (pki.ca_file, root)
            + httpdconf.activesync_location(htpasswd) + static_auth)
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
    finally:
        srv.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("bench: kept", root)


if __name__ == "__main__":
    main()
