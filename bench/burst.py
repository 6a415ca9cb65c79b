#!/usr/bin/env python3
"""A burst of concurrent calls with the spool on a write-throttled disk
(issue 10, "measure"). Run by scripts/bench.sh after the call benchmarks,
as root, with MariaDB up and the release module installed in the sandbox;
standard library only.

    burst.py --out DIR [--calls 200] [--quick]

The spool is a loop-mounted ext4 image inside the sandbox, and Asterisk's
writes to that loop device are throttled by the blkio cgroup (cgroup v2
io.max where the io controller is available, else cgroup v1
blkio.throttle.write_iops_device / write_bps_device): every job write
(fsync of the file, then of the folder) waits for the throttle. Runs:

  down   OTRS refuses connections (nothing listens on its port), so every
         call spools; time inside OTRSTicket() per call (dialplan
         timestamps) against timeout + 100 ms. Then the stand-in starts on
         that port: every call must become exactly one ticket, spool empty.
  up     the same burst with the stand-in answering (20 ms).
  crash  as `down`, then kill -9 of Asterisk as soon as the last call has
         gone on, while jobs handed to the writer at the deadline are still
         being written; jobs on disk vs calls, then Asterisk restarted with
         OTRS up: tickets created vs calls = what the crash cost.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver  # noqa: E402  (Ami, Calls, pct, the bench dialplan)

TOP = driver.TOP
SANDBOX = os.environ.get("OTRS_SANDBOX", "/var/lib/app_otrsticket/sandbox")
SPOOL_IN_CHROOT = "/var/spool/asterisk/otrs-burst"
SPOOL = SANDBOX + SPOOL_IN_CHROOT
WS = "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"
TIMEOUT_MS = 1000
WRITE_IOPS = 10  # writes/s on the spool disk: a saturated disk, 200 fsyncs take ~20 s or more
WRITE_BPS = 1024 * 1024

log = driver.log


def sh(*args, check=True, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def sandbox(cmd, *args, conf=None):
    env = dict(os.environ)
    if conf:
        env["OTRS_SANDBOX_CONF_DIR"] = conf
    return sh("bash", os.path.join(TOP, "scripts/sandbox.sh"), cmd, *args, env=env)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def asterisk_pid():
    with open(os.path.join(SANDBOX, "run/asterisk/asterisk.pid")) as f:
        return int(f.read().strip())


class ThrottledDisk:
    """An ext4 image on a loop device mounted at the spool path, writes
    throttled for the cgroup Asterisk is moved into."""

    def __init__(self, out):
        self.img = os.path.join(out, "burst-spool.img")
        with open(self.img, "wb") as f:
            f.truncate(64 * 1024 * 1024)
        sh("mkfs.ext4", "-q", "-F", self.img)
        self.dev = sh("losetup", "--find", "--show", self.img).strip()
        os.makedirs(SPOOL, exist_ok=True)
        sh("mount", self.dev, SPOOL)
        st = os.stat(os.path.join(SANDBOX, "var/spool/asterisk"))
        os.chown(SPOOL, st.st_uid, st.st_gid)
        os.chmod(SPOOL, 0o750)
        rdev = os.stat(self.dev).st_rdev
        self.majmin = f"{os.major(rdev)}:{os.minor(rdev)}"
        self.cg = None
        self.how = ""

    def throttle(self, pid):
        v2 = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
        ctl = os.path.join(v2, "cgroup.controllers")
        if os.path.exists(ctl) and "io" in open(ctl).read().split():
            self.cg = os.path.join(v2, f"app_otrsticket-burst-{os.getpid()}")
            os.makedirs(self.cg, exist_ok=True)
            with open(os.path.join(self.cg, "io.max"), "w") as f:
                f.write(f"{self.majmin} wbps={WRITE_BPS} wiops={WRITE_IOPS}\n")
            self.how = f"cgroup v2 io.max wiops={WRITE_IOPS} wbps={WRITE_BPS}"
        elif os.path.exists("/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device"):
            # cgroup v2 here has no io controller (blkio is bound to v1):
            # v1's throttle limits the bios Asterisk submits, which is what
            # an fsync of a job does.
            self.cg = f"/sys/fs/cgroup/blkio/app_otrsticket-burst-{os.getpid()}"
            os.makedirs(self.cg, exist_ok=True)
            with open(os.path.join(self.cg, "blkio.throttle.write_iops_device"), "w") as f:
                f.write(f"{self.majmin} {WRITE_IOPS}\n")
            with open(os.path.join(self.cg, "blkio.throttle.write_bps_device"), "w") as f:
                f.write(f"{self.majmin} {WRITE_BPS}\n")
            self.how = f"cgroup v1 blkio.throttle write_iops={WRITE_IOPS} write_bps={WRITE_BPS}"
        else:
            raise RuntimeError("no cgroup io controller (v2 io.max or v1 blkio throttle) to slow the spool disk")
        with open(os.path.join(self.cg, "cgroup.procs"), "w") as f:
            f.write(f"{pid}\n")

    def close(self):
        subprocess.run(["umount", SPOOL], capture_output=True)
        subprocess.run(["losetup", "-d", self.dev], capture_output=True)
        if self.cg:
            # processes left in it (none after the sandbox stop) would keep it
            try:
                os.rmdir(self.cg)
            except OSError:
                pass
        try:
            os.unlink(self.img)
        except OSError:
            pass


def jobs():
    try:
        return sorted(n for n in os.listdir(SPOOL) if n.endswith(".job") and not n.startswith("."))
    except OSError:
        return []


class StandIn:
    def __init__(self, port, out, name):
        self.control = f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [os.path.join(TOP, "target/release/otrs-standin"), "--listen", f"127.0.0.1:{port}", "--control", self.control,
             "--customers", "unknown:UNKNOWN,ivanov:ACME,petrov:ACME,sidorova:GLOBEX,orlova:GLOBEX,smith:GLOBEX,office1:ACME,office2:ACME,ivanova:ACME",
             "--user", "soapagent", "--password", "SoapAgent2024", "--delay-ms", "20"],
            stdout=open(os.path.join(out, f"burst-standin-{name}.out"), "w"),
            stderr=open(os.path.join(out, f"burst-standin-{name}.log"), "w"))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the stand-in did not start")

    def ticket_keys(self):
        """Call keys of the tickets created (one line per TicketCreate)."""
        _, body = driver.http(self.control, "GET", "/control/tickets")
        keys = []
        for line in body.decode("utf-8", "replace").splitlines():
            if not line.startswith("ticket_id="):
                continue  # an article line (prefix "article")
            m = re.search(r"\ttitle=[^\t]*\[call:([^\]]+)\]", line)
            if m:
                keys.append(m.group(1))
        return keys

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def write_conf(out, otrs_port, ami_port, secret):
    conf = os.path.join(out, "burst-conf")
    os.makedirs(conf, exist_ok=True)
    otrs = driver.otrs_conf(f"http://127.0.0.1:{otrs_port}{WS}", os.environ.get("OTRS_DB_PORT", "3307"), "otrs_bench_small", 15)
    otrs = otrs.replace("timeout = 3000", f"timeout = {TIMEOUT_MS}\nspool_dir = {SPOOL_IN_CHROOT}\nretry_interval = 1\nmax_retry_interval = 2")
    files = {"otrs.conf": otrs, "extensions.conf": driver.EXTENSIONS,
             "manager.conf": driver.MANAGER.format(port=ami_port, secret=secret)}
    for name, text in files.items():
        path = os.path.join(conf, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
    return conf


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.5)
    return pred()


def start_asterisk(conf, disk):
    sandbox("start", conf=conf)
    disk.throttle(asterisk_pid())
    ok = wait_for(lambda: "database up" in driver.cli("otrs show status"), 30)
    if not ok:
        raise RuntimeError("module not ready: " + driver.cli("otrs show status"))


def burst(ami_port, secret, n):
    ami = driver.Ami(ami_port, "bench", secret)
    callers = [driver.written(driver.SAMPLES[i % len(driver.SAMPLES)], i) for i in range(n)]
    results, wall = driver.Calls(ami).run(callers, burst=True, per_call_timeout=120.0)
    ami.sock.close()
    return results, wall


def summary(results):
    inside = [r["inside"] * 1000 for r in results if r["inside"] == r["inside"]]
    statuses = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    late = sum(1 for r in results if "being written to the spool" in r.get("error", ""))
    return {"calls": len(results), "p50_ms": driver.pct(inside, 0.50), "p99_ms": driver.pct(inside, 0.99),
            "max_ms": max(inside) if inside else float("nan"), "statuses": statuses, "went_on_before_durable": late}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n = 20 if a.quick else a.calls
    otrs_port = free_port()
    ami_port = free_port()
    secret = os.urandom(12).hex()
    conf = write_conf(a.out, otrs_port, ami_port, secret)
    res = {"calls": n, "timeout_ms": TIMEOUT_MS, "target_ms": TIMEOUT_MS + 100}
    sandbox("stop")
    disk = ThrottledDisk(a.out)
    standin = None
    try:
        # ---- down: every call spools, then OTRS comes back
        start_asterisk(conf, disk)
        res["throttle"] = disk.how
        log(f"burst: {n} calls, OTRS down, spool on {disk.dev} ({disk.how}), timeout {TIMEOUT_MS} ms")
        results, wall = burst(ami_port, secret, n)
        down = summary(results)
        down["wall_s"] = wall
        t0 = time.monotonic()
        wait_for(lambda: len(jobs()) >= n, 120)
        down["jobs_on_disk"] = len(jobs())
        down["all_durable_after_s"] = round(time.monotonic() - t0 + wall, 1)
        standin = StandIn(otrs_port, a.out, "down")
        wait_for(lambda: not jobs() and len(standin.ticket_keys()) >= n, 180)
        keys = standin.ticket_keys()
        down["tickets"] = len(keys)
        down["distinct_calls"] = len(set(keys))
        down["jobs_left"] = len(jobs())
        res["down"] = down
        log(f"burst down: {json.dumps(down)}")
        # ---- up: the same burst with OTRS answering
        standin.stop()
        standin = StandIn(otrs_port, a.out, "up")
        results, wall = burst(ami_port, secret, n)
        up = summary(results)
        up["wall_s"] = wall
        wait_for(lambda: not jobs() and len(standin.ticket_keys()) >= n, 60)
        keys = standin.ticket_keys()
        up["tickets"] = len(keys)
        up["distinct_calls"] = len(set(keys))
        up["jobs_left"] = len(jobs())
        res["up"] = up
        log(f"burst up: {json.dumps(up)}")
        standin.stop()
        standin = None
        if not a.quick:
            # ---- crash: kill -9 while the writer still holds jobs
            results, wall = burst(ami_port, secret, n)
            sandbox("kill")
            crash = summary(results)
            crash["jobs_on_disk_after_kill"] = len(jobs())
            sh("sync")
            standin = StandIn(otrs_port, a.out, "crash")
            start_asterisk(conf, disk)
            wait_for(lambda: not jobs() and len(standin.ticket_keys()) >= crash["jobs_on_disk_after_kill"], 120)
            time.sleep(3)
            keys = standin.ticket_keys()
            crash["tickets"] = len(keys)
            crash["distinct_calls"] = len(set(keys))
            crash["lost"] = n - len(set(keys))
            crash["jobs_left"] = len(jobs())
            res["crash"] = crash
            log(f"burst crash: {json.dumps(crash)}")
    finally:
        if standin:
            standin.stop()
        sandbox("stop")
        disk.close()
    with open(os.path.join(a.out, "burst.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
