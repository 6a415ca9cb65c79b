#!/usr/bin/env python3
"""Places benchmark calls through the real Asterisk with app_otrsticket
loaded, and measures what issue 4 asks for. Run by scripts/bench.sh, which
builds and starts everything first; standard library only.

    driver.py write-conf --dir DIR --url URL --db-port P --db-name NAME --ami-port P --ami-secret S
    driver.py run --config bench.json --out results.json [--quick]

Calls are originated over AMI (127.0.0.1 only, this sandbox only) into
[bench-call]: OTRSTicket(${BCID}) between two microsecond timestamps, then
a UserEvent reports the result; [bench-base] is the same call without
OTRSTicket(). The CPU and memory figures use [cpu-call] / [cpu-base] /
[cpu-wait]: the README's dialplan without the timestamps. Measurements:

  cpu       Asterisk's utime+stime (/proc/PID/stat) over N calls, minus an
            idle baseline of the same wall time, per call; the same for
            [cpu-base] and for [cpu-wait] calls (kept up by Wait() as long
            as a ticket takes), whose difference is the module's share.
  latency   time inside OTRSTicket() (dialplan timestamps) minus the
            stand-in's own reply time, measured by a direct HTTP client
            with the same request, interleaved with the calls.
  memory    Asterisk warmed up by calls without the module, the module
            unloaded and loaded; VmRSS right after that load (index up),
            then every 1 000 calls.
  burst     200 calls originated at once; tickets/s from the first
            originate to the last call's result.
  reuse     connections the stand-in accepted vs requests (its log), the
            same against a keep-alive OTRS (keepalive_otrs.py), and
            MariaDB's Connections counter over the calls.
  lookup    the same calls with 100 000 customers loaded vs 10; how long
            until a new or changed customer is found by a call.
  scale     (when bench/scale.sh filled db_scale) VmRSS at 10 customers,
            then after `module reload` to db_scale (1 000 000 customers)
            once the index is loaded and after its first incremental
            passes; the module's lookup timing over the same calls at 10
            and at 1 000 000.

OTRS_BENCH_PHASES=a,b runs only those phases (e.g. scale).
"""

import argparse
import collections
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK = os.sysconf("SC_CLK_TCK")

EXTENSIONS = r"""; written by bench/driver.py for scripts/bench.sh
[general]
static = yes
writeprotect = yes

; One benchmark call: the ;2 half of Local/c@bench-call runs this.
[bench-call]
exten => c,1,Set(T0=${STRFTIME(,,%s.%6q)})
 same => n,OTRSTicket(${BCID})
 same => n,Set(T1=${STRFTIME(,,%s.%6q)})
 same => n,UserEvent(BenchDone,Id: ${BID},Status: ${OTRSSTATUS},Matches: ${OTRSMATCHES},Customer: ${OTRSCUSTOMERUSER},T0: ${T0},T1: ${T1},Error: ${OTRSERROR})
 same => n,Hangup()

; The same call without OTRSTicket(): the baseline.
[bench-base]
exten => c,1,Set(T0=${STRFTIME(,,%s.%6q)})
 same => n,Set(T1=${STRFTIME(,,%s.%6q)})
 same => n,UserEvent(BenchDone,Id: ${BID},Status: BASE,Matches: ,Customer: ,T0: ${T0},T1: ${T1},Error: )
 same => n,Hangup()

; The baseline call kept up as long as a call in OTRSTicket() (stand-in
; 20 ms + ~2 ms): separates what a longer-lived channel costs Asterisk.
[bench-wait]
exten => c,1,Set(T0=${STRFTIME(,,%s.%6q)})
 same => n,Wait(0.022)
 same => n,Set(T1=${STRFTIME(,,%s.%6q)})
 same => n,UserEvent(BenchDone,Id: ${BID},Status: BASE,Matches: ,Customer: ,T0: ${T0},T1: ${T1},Error: )
 same => n,Hangup()

; The CPU figure's calls: as the README's dialplan runs OTRSTicket(), without
; the timestamps above (instrumentation, not part of a call); the UserEvent
; that tells the driver the call is done is in all three.
[cpu-call]
exten => c,1,OTRSTicket(${BCID})
 same => n,UserEvent(BenchDone,Id: ${BID},Status: ${OTRSSTATUS},Error: ${OTRSERROR})
 same => n,Hangup()

[cpu-base]
exten => c,1,UserEvent(BenchDone,Id: ${BID},Status: BASE)
 same => n,Hangup()

[cpu-wait]
exten => c,1,Wait(0.022)
 same => n,UserEvent(BenchDone,Id: ${BID},Status: BASE)
 same => n,Hangup()

; Where the originating ;1 half would go if it were answered (it is not).
[bench-sink]
exten => s,1,Hangup()
"""

MANAGER = """; written by bench/driver.py: AMI for the benchmark only, on 127.0.0.1
[general]
enabled = yes
webenabled = no
port = {port}
bindaddr = 127.0.0.1
displayconnects = no

[bench]
secret = {secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = user
write = originate
"""


def otrs_conf(url, db_port, db_name, refresh=15, extra="", source=""):
    # The production defaults (refresh 15 s, full 600 s); --quick uses 2 s.
    # `source`: a [customers] section instead of [general]'s MariaDB.
    db = "" if source else f"""dbhost = 127.0.0.1
dbport = {db_port}
dbname = {db_name}
dbuser = otrs
dbpass = otrs-test-pw
"""
    return f"""; written by bench/driver.py for scripts/bench.sh
[general]
url = {url}
{extra}
user = soapagent
password = SoapAgent2024
timeout = 3000
{db}country_code = 7
national_prefix = 8
international_prefix = 00,810
national_number_length = 10
unknown_customer = unknown
refresh_interval = {refresh}

[default]
queue = Raw
state = new
priority = 3 normal
{source}"""


def pg_source(cfg, table):
    """A [customers] section reading `table` from the bench's PostgreSQL."""
    return (f"\n[customers]\ntype = postgresql\ndbhost = 127.0.0.1\ndbport = {cfg['pg_port']}\ndbname = otrs\n"
            f"dbuser = otrs\ndbpass = {cfg['pg_pass']}\ntable = {table}\nsslmode = disable\n")


# --------------------------------------------------------------------- helpers

T_START = time.monotonic()


def log(msg):
    print(f"bench: [{time.monotonic() - T_START:5.0f} s] {msg}", file=sys.stderr, flush=True)


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(1, min(len(s), int(-(-p * len(s) // 1))))
    return s[k - 1]


def med_spread(values):
    if not values:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK


def thread_cpu_ns(pid, name):
    """CPU time (ns, schedstat) of the process's threads called `name`."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            continue
    return total


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def huge_mib(pid):
    """Asterisk's memory on transparent huge pages (the index asks for them)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return -1


def cli(cmd):
    out = subprocess.run(["bash", os.path.join(TOP, "scripts/sandbox.sh"), "cli", cmd],
                         capture_output=True, text=True)
    return out.stdout + out.stderr


def sql(query):
    out = subprocess.run(["bash", os.path.join(TOP, "scripts/mariadb.sh"), "sql", "--batch", "--skip-column-names", "-e", query],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"SQL failed: {query}: {out.stderr}")
    return out.stdout


def http(addr, method, path, body=b"", timeout=10):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length: *(\d+)", head)
            if sep and m and len(rest) >= int(m.group(1)):
                break
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def status_value(status, label):
    for line in status.splitlines():
        s = line.strip()
        if s.startswith(label):
            return s[len(label):].strip()
    return ""


# --------------------------------------------------------------------- AMI

class Ami:
    def __init__(self, port, user, secret):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        banner = self.file.readline()
        if not banner.startswith(b"Asterisk Call Manager"):
            raise RuntimeError(f"unexpected AMI banner {banner!r}")
        self.sock.settimeout(None)
        self.wlock = threading.Lock()
        self.cond = threading.Condition()
        self.done = {}
        self.errors = {}
        self.responses = {}
        self.next_action = 0
        threading.Thread(target=self._reader, daemon=True).start()
        r = self.action([("Action", "Login"), ("Username", user), ("Secret", secret), ("Events", "user")], wait=True)
        if r.get("Response") != "Success":
            raise RuntimeError(f"AMI login failed: {r}")

    def _reader(self):
        msg = {}
        for raw in self.file:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                k, _, v = line.partition(":")
                msg.setdefault(k.strip(), v.strip())
                continue
            if not msg:
                continue
            now = time.monotonic()
            with self.cond:
                if msg.get("Event") == "UserEvent" and msg.get("UserEvent") == "BenchDone":
                    self.done[msg.get("Id", "")] = (msg, now)
                    self.cond.notify_all()
                elif "Response" in msg:
                    aid = msg.get("ActionID", "")
                    self.responses[aid] = msg
                    if msg.get("Response") == "Error" and aid.startswith("o"):
                        self.errors[aid[1:]] = msg.get("Message", "error")
                    self.cond.notify_all()
            msg = {}

    def action(self, fields, wait=False, aid=None):
        if aid is None:
            self.next_action += 1
            aid = f"a{self.next_action}"
        text = "".join(f"{k}: {v}\r\n" for k, v in fields) + f"ActionID: {aid}\r\n\r\n"
        with self.wlock:
            self.sock.sendall(text.encode())
        if wait:
            with self.cond:
                self.cond.wait_for(lambda: aid in self.responses, timeout=10)
                return self.responses.pop(aid, {})
        return None

    def originate(self, bid, caller, context):
        self.action([
            ("Action", "Originate"), ("Channel", f"Local/c@{context}"),
            ("Context", "bench-sink"), ("Exten", "s"), ("Priority", "1"),
            ("Async", "true"), ("Timeout", "30000"),
            ("Variable", f"BID={bid}"), ("Variable", f"BCID={caller}"),
        ], aid=f"o{bid}")


class Calls:
    """Runs calls with a bounded number in flight; returns one record each."""

    def __init__(self, ami):
        self.ami = ami
        self.seq = 0

    def run(self, callers, context="bench-call", concurrency=1, burst=False, per_call_timeout=15.0, between=None):
        results = []
        pending = collections.deque(callers)
        inflight = {}
        ami = self.ami
        t_start = time.monotonic()
        while pending or inflight:
            while pending and (burst or len(inflight) < concurrency):
                caller = pending.popleft()
                self.seq += 1
                bid = f"{os.getpid()}x{self.seq}"
                inflight[bid] = (time.monotonic(), caller)
                ami.originate(bid, caller, context)
            with ami.cond:
                ami.cond.wait_for(lambda: any(b in ami.done or b in ami.errors for b in inflight), timeout=1.0)
                finished = [b for b in inflight if b in ami.done or b in ami.errors]
                got = {b: ami.done.pop(b, None) for b in finished}
                errs = {b: ami.errors.pop(b, None) for b in finished}
            now = time.monotonic()
            for b in finished:
                sent, caller = inflight.pop(b)
                if got[b] is not None:
                    msg, t_recv = got[b]
                    try:
                        inside = float(msg.get("T1", "0")) - float(msg.get("T0", "0"))
                    except ValueError:
                        inside = float("nan")
                    results.append({"caller": caller, "status": msg.get("Status", ""), "matches": msg.get("Matches", ""),
                                    "customer": msg.get("Customer", ""), "error": msg.get("Error", ""),
                                    "inside": inside, "sent": sent, "done": t_recv})
                else:
                    results.append({"caller": caller, "status": "ORIGINATE-ERROR", "error": errs[b], "inside": float("nan"),
                                    "sent": sent, "done": now})
                if between:
                    between()
            for b, (sent, caller) in list(inflight.items()):
                if now - sent > per_call_timeout:
                    inflight.pop(b)
                    results.append({"caller": caller, "status": "LOST", "error": "no result", "inside": float("nan"),
                                    "sent": sent, "done": now})
        return results, time.monotonic() - t_start


# --------------------------------------------------------------------- direct client

def soap_envelope(op, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:tic="http://www.otrs.org/TicketConnector/">\n  <soapenv:Header/>\n  <soapenv:Body>\n'
            f'    <tic:{op}>\n{inner}    </tic:{op}>\n  </soapenv:Body>\n</soapenv:Envelope>\n')


class Direct:
    """A minimal client sending the module's kind of TicketCreate to the
    stand-in: its own reply time, without the module."""

    def __init__(self, url):
        m = re.match(r"http://([^/]+)(/.*)", url)
        self.addr, self.path = m.group(1), m.group(2)
        body = soap_envelope("SessionCreate", "      <tic:UserLogin>soapagent</tic:UserLogin>\n      <tic:Password>SoapAgent2024</tic:Password>\n")
        _, reply = self.post("SessionCreate", body.encode())
        sid = re.search(rb"<SessionID>([^<]+)</SessionID>", reply)
        if not sid:
            raise RuntimeError(f"stand-in SessionCreate failed: {reply[:300]!r}")
        self.sid = sid.group(1).decode()

    def post(self, op, body):
        host, port = self.addr.rsplit(":", 1)
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.addr}\r\nUser-Agent: bench-direct\r\nAccept: */*\r\n"
                f"Content-Type: text/xml; charset=UTF-8\r\nSOAPAction: \"http://www.otrs.org/TicketConnector/#{op}\"\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        t0 = time.perf_counter()
        s = socket.create_connection((host, int(port)), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        dt = time.perf_counter() - t0
        s.close()
        return dt, data

    def ticket(self, n):
        leaf = lambda k, v, d=6: " " * d + f"<tic:{k}>{v}</tic:{k}>\n"
        inner = (leaf("SessionID", self.sid) + "      <tic:Ticket>\n" +
                 leaf("Title", f"Call from Ivan Ivanov (89161229624) [call:bench.{n}]", 8) + leaf("Queue", "Raw", 8) +
                 leaf("State", "new", 8) + leaf("Priority", "3 normal", 8) + leaf("CustomerUser", "ivanov", 8) +
                 "      </tic:Ticket>\n      <tic:Article>\n" + leaf("CommunicationChannel", "Phone", 8) +
                 leaf("SenderType", "customer", 8) + leaf("IsVisibleForCustomer", "1", 8) +
                 leaf("Subject", "Phone call from 89161229624", 8) +
                 leaf("Body", "Incoming call from 89161229624 at 2026-11-26 10:00:00.\nCustomer: Ivan Ivanov (login ivanov, customer ACME).\nDialled: c@bench-call, channel Local/c@bench-call-00000001;2, call 1732612345.42.", 8) +
                 leaf("ContentType", "text/plain; charset=utf8", 8) + "      </tic:Article>\n")
        dt, data = self.post("TicketCreate", soap_envelope("TicketCreate", inner).encode())
        if b"<TicketNumber>" not in data:
            raise RuntimeError(f"direct TicketCreate failed: {data[:400]!r}")
        return dt


# --------------------------------------------------------------------- callers

SAMPLES = ["9161229624", "9165551234", "9167770011", "9165550000", "9031234567", "4951234567", "9168889900"]


def written(nsn, how):
    return [f"8{nsn}", f"+7{nsn}", f"+7 ({nsn[:3]}) {nsn[3:6]}-{nsn[6:8]}-{nsn[8:]}", nsn, f"007{nsn}"][how % 5]


def callers(count, nsns, seed):
    """90 % numbers of customers (nsns), 10 % unknown ones, five formats in turn."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        nsn = rng.choice(nsns) if rng.random() >= 0.1 else "97%08d" % rng.randrange(10 ** 8)
        out.append(written(nsn, i))
    return out


def bulk_nsn(i):
    return "%d%07d" % (920 + i // 10 ** 7, i % 10 ** 7)


def pg_nsn(i):
    """The number of bench/scale.sh's PostgreSQL customer i ('8 921 ...')."""
    return "921%07d" % i


# --------------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, cfg, quick):
        self.cfg = cfg
        self.quick = quick
        self.pid = int(open(cfg["pidfile"]).read().strip())
        self.ami = Ami(cfg["ami_port"], "bench", cfg["ami_secret"])
        self.calls = Calls(self.ami)
        self.res = {"quick": quick}
        self.idle_rate = None
        self.refresh = 5 if quick else 15
        self.res["refresh_interval_s"] = self.refresh

    # -- plumbing
    def wait_index(self, customers_at_least, timeout=120):
        until = time.monotonic() + timeout
        while True:
            s = cli("otrs show status")
            m = re.search(r"(\d+) customers", s)
            if "database up" in s and m and int(m.group(1)) >= customers_at_least:
                return s
            if time.monotonic() > until:
                raise RuntimeError(f"customer index never reached {customers_at_least} customers:\n{s}")
            time.sleep(0.5)

    def reconfigure(self, url=None, db_name=None, extra=None, source=None):
        if url:
            self.cfg["current_url"] = url
        if db_name:
            self.cfg["current_db"] = db_name
        if extra is not None:
            self.cfg["current_extra"] = extra
        if source is not None:
            self.cfg["current_source"] = source
        path = os.path.join(self.cfg["sandbox"], "etc/asterisk/otrs.conf")
        with open(path, "w") as f:
            f.write(otrs_conf(self.cfg["current_url"], self.cfg["db_port"], self.cfg["current_db"], self.refresh,
                              self.cfg.get("current_extra", ""), self.cfg.get("current_source", "")))
        later = time.time() + 2
        os.utime(path, (later, later))
        out = cli("module reload app_otrsticket.so")
        return out

    def standin_log_mark(self):
        try:
            return os.path.getsize(self.cfg["standin_log"])
        except OSError:
            return 0

    def standin_connections(self, since):
        """SOAP requests the stand-in logged since `since`. It closes every
        connection after its reply (as Znuny does), so each came on a
        connection of its own: (requests, connections)."""
        reqs = 0
        with open(self.cfg["standin_log"], "rb") as f:
            f.seek(since)
            for raw in f:
                if b" op=" in raw:
                    reqs += 1
        return reqs, reqs

    def mysql_connections(self):
        out = sql("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(out.split()[1])

    def check(self, results, label, want=("CREATED",)):
        bad = [r for r in results if r["status"] not in want]
        if bad:
            kinds = collections.Counter((r["status"], r["error"][:80]) for r in bad)
            log(f"{label}: {len(bad)} of {len(results)} calls not {want}: {dict(kinds)}")
        return len(bad)

    def idle(self, seconds):
        c0, t0 = cpu_seconds(self.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(self.pid) - c0) / (time.monotonic() - t0)

    # -- phases
    def warm_up(self):
        n = 20 if self.quick else 100
        r, _ = self.calls.run(callers(n, SAMPLES, 1), concurrency=4)
        self.check(r, "warm-up")
        r, _ = self.calls.run(callers(n, SAMPLES, 2), context="bench-base", concurrency=4)
        self.check(r, "warm-up base", want=("BASE",))

    def phase_idle(self):
        secs = 3 if self.quick else 20
        log(f"idle baseline: {secs} s")
        rates = [self.idle(secs / 2) for _ in range(2)]
        self.idle_rate = statistics.mean(rates)
        self.res["idle_cpu_ms_per_s"] = self.idle_rate * 1e3

    def phase_latency(self):
        n = 100 if self.quick else 1000
        log(f"latency: {n} sequential calls, each followed by one direct stand-in request")
        direct = Direct(self.cfg["standin_url"])
        direct_times = []
        k = [0]

        def one_direct():
            k[0] += 1
            direct_times.append(direct.ticket(k[0]))

        for _ in range(10):
            one_direct()
        direct_times.clear()
        results, _ = self.calls.run(callers(n, SAMPLES, 3), concurrency=1, between=one_direct)
        bad = self.check(results, "latency")
        inside = [r["inside"] * 1e3 for r in results if r["status"] == "CREATED"]
        d = [t * 1e3 for t in direct_times]
        d50 = statistics.median(d)
        added = [x - d50 for x in inside]
        status = cli("otrs show status")
        self.res["latency"] = {
            "calls": n, "failed": bad,
            "inside_p50_ms": pct(inside, 0.5), "inside_p99_ms": pct(inside, 0.99), "inside_max_ms": max(inside),
            "standin_p50_ms": d50, "standin_p99_ms": pct(d, 0.99),
            "added_p50_ms": pct(added, 0.5), "added_p99_ms": pct(added, 0.99),
            "added_p99_vs_p99_ms": pct(inside, 0.99) - pct(d, 0.99),
            "module_status_latency": status_value(status, "Latency:") or re.findall(r"p50.*", status)[:1],
            "standin_delay_ms": self.cfg["delay_ms"],
        }

    def cpu_run(self, context, n, conc):
        c0, t0 = cpu_seconds(self.pid), time.monotonic()
        results, _ = self.calls.run(callers(n, SAMPLES, random.randrange(10 ** 6)), context=context, concurrency=conc)
        # let the last hangups finish before reading the counter
        time.sleep(0.3)
        cpu, wall = cpu_seconds(self.pid) - c0, time.monotonic() - t0
        bad = self.check(results, f"cpu {context}", want=("CREATED",) if context.endswith("-call") else ("BASE",))
        return (cpu - self.idle_rate * wall) / n * 1e3, bad, wall

    def phase_cpu(self):
        # cpu-*: the README's dialplan (OTRSTicket(), then on), without the
        # latency phase's timestamps; the three kinds interleaved per run
        n, conc, runs = (200, 10, 1) if self.quick else (2000, 10, 5)
        log(f"cpu: {runs} x ({n} calls with OTRSTicket(), {n} without, {n} kept up by Wait()), {conc} at a time")
        per_call, base, wait, diff, failed = [], [], [], [], 0
        for _ in range(runs):
            a, bad_a, _ = self.cpu_run("cpu-call", n, conc)
            b, bad_b, _ = self.cpu_run("cpu-base", n, conc)
            w, bad_w, _ = self.cpu_run("cpu-wait", n, conc)
            per_call.append(a)
            base.append(b)
            wait.append(w)
            diff.append(a - w)
            failed += bad_a + bad_b + bad_w
        self.res["cpu"] = {"calls_per_run": n, "concurrency": conc, "failed": failed,
                           "per_call_ms": med_spread(per_call), "base_call_ms": med_spread(base),
                           "wait_call_ms": med_spread(wait), "module_ms": med_spread(diff)}
        # The same one call at a time (~40 calls/s, nearer a helpdesk's rate):
        # Asterisk's own cost per call grows as its threads batch less work
        # per wake-up; shows what the figure above owes to the call rate.
        n1 = 60 if self.quick else 400
        slow_call, slow_wait = [], []
        for _ in range(1 if self.quick else 2):
            a, bad_a, _ = self.cpu_run("cpu-call", n1, 1)
            w, bad_w, _ = self.cpu_run("cpu-wait", n1, 1)
            slow_call.append(a)
            slow_wait.append(w)
            self.res["cpu"]["failed"] += bad_a + bad_w
        self.res["cpu"]["sequential"] = {"calls_per_run": n1, "per_call_ms": med_spread(slow_call),
                                         "wait_call_ms": med_spread(slow_wait),
                                         "module_ms": med_spread([a - w for a, w in zip(slow_call, slow_wait)])}

    def phase_rest(self):
        """SOAP and REST to the same stand-in (20 ms), interleaved: PBX CPU
        per call (the call minus the same call kept up by Wait()) and the
        time inside OTRSTicket(). The stand-in closes SOAP connections after
        each reply, as Znuny does, and keeps REST ones open, as Znuny's REST
        replies do."""
        n, conc, runs = (200, 10, 1) if self.quick else (1000, 10, 3)
        soap_url = self.cfg["standin_url"]
        rest_url = soap_url.replace("GenericTicketConnectorSOAP", "GenericTicketConnectorREST")
        log(f"rest: {runs} x ({n} calls over SOAP, {n} over REST, {n} kept up by Wait()), {conc} at a time")
        out = {"calls_per_run": n, "concurrency": conc, "failed": 0}
        per = {"soap": [], "rest": [], "wait": []}
        inside = {"soap": [], "rest": []}
        for _ in range(runs):
            for proto, url, extra in (("soap", soap_url, ""), ("rest", rest_url, "api = rest")):
                self.reconfigure(url=url, extra=extra)
                self.wait_index(1)
                mark = self.standin_log_mark()
                a, bad, _ = self.cpu_run("cpu-call", n, conc)
                per[proto].append(a)
                out["failed"] += bad
                out[f"{proto}_requests_connections"] = self.standin_connections(mark)
                results, _ = self.calls.run(callers(100, SAMPLES, random.randrange(10 ** 6)), context="bench-call",
                                            concurrency=1)
                inside[proto] += [r["inside"] * 1e3 for r in results if r["status"] == "CREATED"]
            w, bad, _ = self.cpu_run("cpu-wait", n, conc)
            per["wait"].append(w)
            out["failed"] += bad
        self.reconfigure(url=soap_url, extra="")
        self.wait_index(1)
        for proto in ("soap", "rest"):
            out[f"{proto}_per_call_ms"] = med_spread(per[proto])
            out[f"{proto}_module_ms"] = med_spread([a - w for a, w in zip(per[proto], per["wait"])])
            if inside[proto]:
                out[f"{proto}_inside_p50_ms"] = pct(inside[proto], 0.5)
                out[f"{proto}_inside_p99_ms"] = pct(inside[proto], 0.99)
        out["wait_call_ms"] = med_spread(per["wait"])
        self.res["rest"] = out

    def phase_memory(self, rss_at_start):
        total = 600 if self.quick else 10000
        warm = 300 if self.quick else 5000
        step = total // 10
        conc = 20
        log(f"memory: {warm} calls without the module (Asterisk's own warm-up), module unloaded and loaded, "
            f"then {total} calls with it, {conc} at a time, RSS every {step}")
        results, _ = self.calls.run(callers(warm, SAMPLES, 99), context="cpu-wait", concurrency=conc)
        self.check(results, "memory warm-up", want=("BASE",))
        rss_warm = rss_mib(self.pid)
        # "right after loading the module": a fresh load into the warm
        # Asterisk, its customer index up
        for cmd in ("module unload app_otrsticket.so", "module load app_otrsticket.so"):
            out = cli(cmd)
            if "nable" in out or "rror" in out:
                raise RuntimeError(f"{cmd}: {out.strip()}")
        self.wait_index(1)
        rss_load = rss_mib(self.pid)
        conn0 = self.mysql_connections()
        mark = self.standin_log_mark()
        t0 = time.monotonic()
        samples = [(0, rss_load)]
        failed = 0
        for i in range(10):
            results, _ = self.calls.run(callers(step, SAMPLES, 100 + i), context="cpu-call", concurrency=conc)
            failed += self.check(results, f"memory {i}")
            samples.append(((i + 1) * step, rss_mib(self.pid)))
        wall = time.monotonic() - t0
        # the second SHOW STATUS is a connection of its own
        conn1 = self.mysql_connections() - 1
        reqs, peers = self.standin_connections(mark)
        half = dict(samples)[total // 2]
        end = samples[-1][1]
        self.res["memory"] = {"calls": total, "warm_calls": warm, "failed": failed, "rss_at_start_mib": rss_at_start,
                              "rss_after_warm_mib": rss_warm, "rss_after_load_mib": rss_load,
                              "rss_half_mib": half, "rss_end_mib": end,
                              "growth_since_load_mib": end - rss_load, "growth_since_start_mib": end - rss_at_start,
                              "growth_second_half_mib": end - half, "samples": samples, "threads": threads(self.pid)}
        self.res["reuse"] = {"calls": total, "seconds": wall, "mysql_connections": conn1 - conn0,
                             "standin_requests": reqs, "standin_connections": peers}

    def phase_burst(self):
        n, runs = 200, (1 if self.quick else 3)
        log(f"burst: {runs} x {n} calls at once")
        rates, inside99, failed, conn = [], [], 0, None
        for _ in range(runs):
            time.sleep(1)
            mark = self.standin_log_mark()
            results, elapsed = self.calls.run(callers(n, SAMPLES, random.randrange(10 ** 6)), burst=True)
            failed += self.check(results, "burst")
            ok = [r for r in results if r["status"] == "CREATED"]
            first = min(r["sent"] for r in results)
            last = max(r["done"] for r in results)
            rates.append(len(ok) / (last - first))
            inside99.append(pct([r["inside"] * 1e3 for r in ok], 0.99))
            time.sleep(0.5)
            conn = self.standin_connections(mark)
        self.res["burst"] = {"calls": n, "failed": failed, "tickets_per_s": med_spread(rates),
                             "inside_p99_ms": med_spread(inside99),
                             "standin_requests": conn[0], "standin_connections": conn[1]}

    def phase_keepalive(self):
        url = self.cfg["keepalive_url"]
        addr = re.match(r"http://([^/]+)", url).group(1)
        log("keep-alive OTRS: sequential, 20 at a time, two bursts of 200")
        self.reconfigure(url=url)
        time.sleep(0.5)
        # the new config's first call opens a session
        self.calls.run(callers(2, SAMPLES, 5), concurrency=1)
        out = {}
        plan = [("sequential", {"concurrency": 1}, 30 if self.quick else 200),
                ("20_at_a_time", {"concurrency": 20}, 200 if self.quick else 1000),
                ("burst_1", {"burst": True}, 200),
                ("burst_2", {"burst": True}, 200)]
        for label, kw, n in plan:
            http(addr, "POST", "/reset")
            results, _ = self.calls.run(callers(n, SAMPLES, 6), **kw)
            bad = self.check(results, f"keep-alive {label}")
            time.sleep(0.3)
            _, text = http(addr, "GET", "/counts")
            c = dict(kv.split("=") for kv in text.decode().split())
            # new connections the module opened: minus those of /reset and /counts
            out[label] = {"calls": n, "failed": bad, "requests": int(c["requests"]),
                          "new_connections": int(c["connections"]) - 2}
        self.reconfigure(url=self.cfg["standin_url"])
        time.sleep(0.5)
        self.calls.run(callers(2, SAMPLES, 7), concurrency=1)
        self.res["keepalive"] = out

    def lookup_run(self, nsns, n, seed, want=("CREATED",)):
        results, _ = self.calls.run(callers(n, nsns, seed), concurrency=1)
        bad = self.check(results, "lookup", want=want)
        inside = [r["inside"] * 1e3 for r in results if r["status"] in want]
        hits = sum(1 for r in results if r.get("matches") not in (None, "", "0"))
        # the module's own timing of each call's lookup (its last 1024)
        line = status_value(cli("otrs show status"), "Customer lookup:")
        m = re.search(r"p50 ([\d.]+) µs, p99 ([\d.]+) µs \(last (\d+) calls\), max ([\d.]+) µs since load", line)
        if not m:
            raise RuntimeError(f"no 'Customer lookup:' line in otrs show status: {line!r}")
        return {"calls": n, "failed": bad, "hits": hits, "p50_ms": pct(inside, 0.5), "p99_ms": pct(inside, 0.99),
                "lookup_p50_us": float(m.group(1)), "lookup_p99_us": float(m.group(2)),
                "lookup_max_us": float(m.group(4)), "lookup_samples": int(m.group(3))}

    def phase_lookup(self):
        # More calls than the module's window of 1024 lookups, so that each
        # figure covers one database only (quick mode: indicative).
        n = 60 if self.quick else 1100
        small, large = self.cfg["db_small"], self.cfg["db_large"]
        bulk_called = self.cfg["bulk_called"]
        log(f"lookup: {n} sequential calls at 10 customers, then at 100 000")
        out = {}
        out["small"] = self.lookup_run(SAMPLES, n, 11)
        self.reconfigure(db_name=large)
        t0 = time.monotonic()
        st = self.wait_index(100000)
        out["large_load_s"] = time.monotonic() - t0
        out["large_customers"] = int(re.search(r"(\d+) customers", st).group(1))
        time.sleep(1)
        # Callers from the whole table (not only the customers the stand-in
        # knows): the lookup is what is timed; OTRS (the stand-in) refuses the
        # tickets of customers it does not know, as Znuny would.
        everyone = [bulk_nsn(i) for i in range(1, 100001)]
        out["large"] = self.lookup_run(everyone, n, 12, want=("CREATED", "FAILED"))
        out["rss_large_mib"] = rss_mib(self.pid)
        out["p99_ratio"] = out["large"]["lookup_p99_us"] / out["small"]["lookup_p99_us"]
        out["inside_p99_ratio"] = out["large"]["p99_ms"] / out["small"]["p99_ms"]
        # After a bulk load every row has the same change_time; the refresher
        # reads them once more after the load, then only what changes.
        secs = self.refresh + 1 if self.quick else 2 * self.refresh + 5
        log(f"idle at 100 000 customers: {secs} s")
        m0 = self.mysql_connections()
        out["idle_cpu_ms_per_s_large"] = self.idle(secs) * 1e3
        out["idle_large_seconds"] = secs
        out["mysql_connections_idle_large"] = self.mysql_connections() - 1 - m0
        # A new customer, then a changed number: how long until calls find them.
        out["fresh_new_s"] = self.freshness(
            "INSERT INTO customer_user (login, email, customer_id, first_name, last_name, phone, valid_id, "
            "create_time, create_by, change_time, change_by) VALUES ('benchnew', 'benchnew@example.invalid', 'BULK', "
            "'Bench', 'New', '+7 (977) 123-45-67', 1, NOW(), 1, NOW(), 1)", "89771234567", "benchnew", large)
        out["fresh_changed_s"] = self.freshness(
            f"UPDATE customer_user SET phone = '8 977 765 43 21', change_time = NOW() WHERE login = 'bulk{bulk_called[0]:06d}'",
            "+79777654321", f"bulk{bulk_called[0]:06d}", large)
        self.reconfigure(db_name=small)
        self.wait_index(1)
        self.res["lookup"] = out

    def phase_scale(self):
        big, count = self.cfg.get("db_scale"), int(self.cfg.get("scale_customers", 0))
        if not big or not count:
            log("scale: no db_scale in the config (bench/scale.sh did not run): skipped")
            return
        n = 60 if self.quick else 1100
        small = self.cfg["db_small"]
        out = {"customers_wanted": count}
        self.reconfigure(db_name=small)
        self.wait_index(1)
        time.sleep(1)
        out["small"] = self.lookup_run(SAMPLES, n, 21)
        out["rss_small_mib"] = rss_mib(self.pid)
        log(f"scale: module reload to {big} ({count} customers)")
        t0 = time.monotonic()
        self.reconfigure(db_name=big)
        st = self.wait_index(count, timeout=300)
        out["load_s"] = time.monotonic() - t0
        out["customers"] = int(re.search(r"(\d+) customers", st).group(1))
        out["rss_loaded_mib"] = rss_mib(self.pid)
        out["huge_loaded_mib"] = huge_mib(self.pid)
        # The first incremental passes reread the bulk rows (one change time),
        # then read nothing: the memory once they are done.
        time.sleep(self.refresh + 3 if self.quick else 2 * self.refresh + 8)
        out["rss_settled_mib"] = rss_mib(self.pid)
        # What keeping the index warm costs: the refresher thread's CPU
        # while no call comes and no refresh reads anything.
        secs = 3 if self.quick else 10
        c0, t0 = thread_cpu_ns(self.pid, "otrs-customers"), time.monotonic()
        time.sleep(secs)
        out["warm_cpu_ms_per_s"] = (thread_cpu_ns(self.pid, "otrs-customers") - c0) / 1e6 / (time.monotonic() - t0)
        everyone = [bulk_nsn(i) for i in range(1, count + 1)]
        out["large"] = self.lookup_run(everyone, n, 22, want=("CREATED", "FAILED"))
        out["rss_after_calls_mib"] = rss_mib(self.pid)
        out["rss_growth_mib"] = out["rss_settled_mib"] - out["rss_small_mib"]
        out["p99_ratio"] = out["large"]["lookup_p99_us"] / out["small"]["lookup_p99_us"]
        # The same without keeping the index warm (index_keep_warm = 0;
        # the change reloads the index).
        log("scale: again with index_keep_warm = 0")
        self.reconfigure(extra="index_keep_warm = 0")
        time.sleep(1)
        self.wait_index(count, timeout=300)
        time.sleep(self.refresh + 3 if self.quick else 2 * self.refresh + 8)
        out["large_cold"] = self.lookup_run(everyone, n, 23, want=("CREATED", "FAILED"))
        out["p99_ratio_cold"] = out["large_cold"]["lookup_p99_us"] / out["small"]["lookup_p99_us"]
        self.reconfigure(db_name=small, extra="")
        self.wait_index(1)
        time.sleep(2)
        out["rss_back_small_mib"] = rss_mib(self.pid)
        # The 10 again: how far this machine's own floor moved meanwhile.
        out["small_after"] = self.lookup_run(SAMPLES, n, 26)
        # PostgreSQL: its 10 samples, then its 1 000 000 (bench/scale.sh)
        pg_count = int(self.cfg.get("pg_scale_customers", 0))
        if pg_count:
            pg = {"customers_wanted": pg_count}
            self.reconfigure(source=pg_source(self.cfg, "scale_small_customer_user"))
            self.wait_index(10)
            time.sleep(1)
            pg["small"] = self.lookup_run([pg_nsn(i) for i in range(1, 11)], n, 24, want=("CREATED", "FAILED"))
            pg["rss_small_mib"] = rss_mib(self.pid)
            log(f"scale: module reload to PostgreSQL scale_customer_user ({pg_count} customers)")
            t0 = time.monotonic()
            self.reconfigure(source=pg_source(self.cfg, "scale_customer_user"))
            st = self.wait_index(pg_count, timeout=300)
            pg["load_s"] = time.monotonic() - t0
            pg["customers"] = int(re.search(r"(\d+) customers", st).group(1))
            pg["huge_loaded_mib"] = huge_mib(self.pid)
            time.sleep(self.refresh + 3 if self.quick else 2 * self.refresh + 8)
            pg["rss_settled_mib"] = rss_mib(self.pid)
            pg["rss_growth_mib"] = pg["rss_settled_mib"] - pg["rss_small_mib"]
            pg_everyone = [pg_nsn(i) for i in range(1, pg_count + 1)]
            pg["large"] = self.lookup_run(pg_everyone, n, 25, want=("CREATED", "FAILED"))
            pg["p99_ratio"] = pg["large"]["lookup_p99_us"] / pg["small"]["lookup_p99_us"]
            self.reconfigure(source=pg_source(self.cfg, "scale_small_customer_user"))
            self.wait_index(10)
            time.sleep(1)
            pg["small_after"] = self.lookup_run([pg_nsn(i) for i in range(1, 11)], n, 27, want=("CREATED", "FAILED"))
            out["postgresql"] = pg
            self.reconfigure(db_name=small, source="")
            self.wait_index(1)
        log(f"scale: {json.dumps(out)}")
        self.res["scale"] = out

    def freshness(self, statement, number, login, db):
        sql(f"USE {db}; {statement}")
        t0 = time.monotonic()
        limit = 60 if self.quick else 90
        while time.monotonic() - t0 < limit:
            results, _ = self.calls.run([number], concurrency=1)
            if results and results[0]["customer"] == login:
                return time.monotonic() - t0
            time.sleep(0.5)
        return None

    def run(self):
        log(f"Asterisk pid {self.pid}; waiting for the customer index")
        st = self.wait_index(1)
        self.res["rss_at_start_mib"] = rss_at_start = rss_mib(self.pid)
        self.res["module_status_before"] = st
        self.warm_up()
        self.phase_idle()
        phases = [("memory", lambda: self.phase_memory(rss_at_start)),
                  ("latency", self.phase_latency), ("cpu", self.phase_cpu), ("burst", self.phase_burst),
                  ("keepalive", self.phase_keepalive), ("rest", self.phase_rest), ("lookup", self.phase_lookup),
                  ("scale", self.phase_scale)]
        only = [p for p in os.environ.get("OTRS_BENCH_PHASES", "").split(",") if p]
        phases = [(name, phase) for name, phase in phases if not only or name in only]
        failed = []
        for name, phase in phases:
            try:
                phase()
            except Exception as e:  # go on with the others; report at the end
                log(f"phase {name} failed: {e!r}")
                self.res.setdefault("errors", {})[name] = repr(e)
                failed.append(name)
            self.save()
        self.res["module_status_after"] = cli("otrs show status")
        self.save()
        return failed

    def save(self):
        with open(self.out, "w") as f:
            json.dump(self.res, f, indent=1, default=str)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write-conf")
    w.add_argument("--dir", required=True)
    w.add_argument("--url", required=True)
    w.add_argument("--db-port", required=True)
    w.add_argument("--db-name", required=True)
    w.add_argument("--ami-port", required=True)
    w.add_argument("--ami-secret", required=True)
    w.add_argument("--refresh", type=int, default=15)
    r = sub.add_parser("run")
    r.add_argument("--config", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.cmd == "write-conf":
        os.makedirs(a.dir, exist_ok=True)
        with open(os.path.join(a.dir, "otrs.conf"), "w") as f:
            f.write(otrs_conf(a.url, a.db_port, a.db_name, a.refresh))
        with open(os.path.join(a.dir, "extensions.conf"), "w") as f:
            f.write(EXTENSIONS)
        with open(os.path.join(a.dir, "manager.conf"), "w") as f:
            f.write(MANAGER.format(port=a.ami_port, secret=a.ami_secret))
        return 0
    with open(a.config) as f:
        cfg = json.load(f)
    cfg.setdefault("current_url", cfg["standin_url"])
    cfg.setdefault("current_db", cfg["db_small"])
    bench = Bench(cfg, a.quick)
    bench.out = a.out
    failed = bench.run()
    if failed:
        log(f"failed phases: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
