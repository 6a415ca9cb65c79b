#!/usr/bin/env python3
"""Turns scripts/bench.sh's raw results (micro.txt from the criterion bench,
criterion.log, calls.json from driver.py) into the markdown table that
README.md's "Benchmarks" shows: each figure beside its target, saying what
this run measured (a --quick run measures less). Standard library only.

    report.py --dir target/bench --mode full|quick --seconds N
"""

import argparse
import json
import os
import platform
import re
import subprocess


def read_kv(path):
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def criterion_medians(path):
    """{bench name: median text} from criterion's output."""
    out = {}
    if not os.path.exists(path):
        return out
    name = None
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^([a-z_]+/\S+)\s+time:\s+\[\S+ \S+ (\S+ \S+) \S+ \S+\]", line)
        if m:
            out[m.group(1)] = m.group(2)
            name = None
            continue
        m = re.match(r"^([a-z_]+/\S+)$", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"^\s+time:\s+\[\S+ \S+ (\S+ \S+) \S+ \S+\]", line)
        if m and name:
            out[name] = m.group(1)
            name = None
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -n 1") or platform.processor()
    cores = os.cpu_count()
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
    sandbox = os.environ.get("OTRS_SANDBOX", "/var/lib/app_otrsticket/sandbox")
    ast = sh(f"cat {sandbox}/.app_otrsticket-built 2>/dev/null")
    rustc = sh("rustc --version")
    rev = sh("git rev-parse --short HEAD") + (" + local changes" if sh("git status --porcelain --untracked-files=no") else "")
    when = sh("date -u '+%Y-%m-%d %H:%M UTC'")
    return f"{cpu}, {cores} cores, {mem} RAM, Linux {platform.release()}; {ast}; {rustc}; commit {rev}; {when}"


def scale_rows(row, c, micro):
    """Issue 12 at scale: bench/scale.sh's figures (micro.txt) and, through
    Asterisk, driver.py's scale phase."""
    for label, name in (("mysql", "MariaDB"), ("postgresql", "PostgreSQL"), ("ldap", "slapd")):
        k = lambda x: micro.get(f"scale_{label}_{x}")
        if k("customers") is None:
            continue
        n, target = int(k("customers")), (10.0 if label == "ldap" else 5.0)
        row(f"{name}: {n} customers, in process", f"full load ≤ {target:.0f} s; incremental ≤ "
            f"{'1 s' if label == 'ldap' else '10 ms'}; index ≤ +150 MiB",
            f"full load {k('full_load_s')} s; incremental pass with nothing changed {k('incremental_ms')} ms; "
            f"+{k('rss_mib')} MiB RSS; lookup p99 {k('lookup_p99_us')} µs vs {k('small_lookup_p99_us')} µs at 10",
            float(k("full_load_s")) <= target and float(k("rss_mib")) <= 150
            and float(k("incremental_ms")) <= (1000 if label == "ldap" else 10),
            "bench/scale.sh: the refresher's code in a process of its own per source")
    sc = c.get("scale")
    if sc:
        sm, lg = sc["small"], sc["large"]
        row(f"Asterisk with {sc['customers']} customers (MariaDB)", "RSS ≤ +150 MiB; lookup p99 ≤ 20 µs, ≤ 1.2× the 10's",
            f"RSS {f(sc['rss_small_mib'], 1)} → {f(sc['rss_settled_mib'], 1)} MiB (+{f(sc['rss_growth_mib'], 1)}), "
            f"loaded in {f(sc['load_s'], 1)} s; lookup inside calls p50 {f(lg['lookup_p50_us'])} / p99 "
            f"{f(lg['lookup_p99_us'])} µs vs {f(sm['lookup_p50_us'])} / {f(sm['lookup_p99_us'])} µs at 10 "
            f"(ratio {f(sc['p99_ratio'])}){again(sc)}; keeping the index warm cost the refresher thread "
            f"{f(sc.get('warm_cpu_ms_per_s'), 3)} ms of CPU a second",
            sc["rss_growth_mib"] <= 150 and lg["lookup_p99_us"] <= 20 and sc["p99_ratio"] <= 1.2,
            f"driver.py scale: `module reload` from the 10 samples to otrs_bench_scale; {sm['calls']} sequential "
            f"calls at each size; the module's own lookup timing (last {lg['lookup_samples']}); "
            f"CPU from /proc/PID/task/*/schedstat of thread otrs-customers, no call, no change")
        cold = sc.get("large_cold")
        if cold:
            row(f"… the same with `index_keep_warm = 0`", "– (what keeping warm buys)",
                f"lookup inside calls p50 {f(cold['lookup_p50_us'])} / p99 {f(cold['lookup_p99_us'])} µs "
                f"(ratio {f(sc['p99_ratio_cold'])} to the 10's)", None,
                "the same index reloaded with the option off, the same number of calls")
        pg = sc.get("postgresql")
        if pg:
            ps, pl = pg["small"], pg["large"]
            row(f"Asterisk with {pg['customers']} customers (PostgreSQL)",
                "RSS ≤ +150 MiB; lookup p99 ≤ 20 µs, ≤ 1.2× the 10's",
                f"RSS {f(pg.get('rss_small_mib'), 1)} → {f(pg.get('rss_settled_mib'), 1)} MiB "
                f"(+{f(pg.get('rss_growth_mib'), 1)}), loaded in {f(pg['load_s'], 1)} s; lookup inside calls p50 "
                f"{f(pl['lookup_p50_us'])} / p99 {f(pl['lookup_p99_us'])} µs vs {f(ps['lookup_p50_us'])} / "
                f"{f(ps['lookup_p99_us'])} µs at 10 (ratio {f(pg['p99_ratio'])}){again(pg)}",
                pg.get("rss_growth_mib", 1e9) <= 150 and pl["lookup_p99_us"] <= 20 and pg["p99_ratio"] <= 1.2,
                "driver.py scale: a [customers] section of type postgresql, `module reload` from "
                "scale_small_customer_user (10) to scale_customer_user; as above")


def again(sc):
    """The 10-customer figure measured once more after the large one: the
    machine's own floor moves between runs (and within one)."""
    after = sc.get("small_after")
    if not after:
        return ""
    return f", the 10 again afterwards p99 {f(after['lookup_p99_us'])} µs"


def f(v, digits=2, unit=""):
    if v is None:
        return "n/a"
    try:
        return f"{float(v):.{digits}f}{unit}"
    except (TypeError, ValueError):
        return str(v)


def ms(d, key="median", digits=2):
    if not d or d.get(key) is None:
        return "n/a"
    s = f"{d[key]:.{digits}f} ms"
    if d.get("runs", 0) > 1:
        s += f" (runs {d['min']:.{digits}f}–{d['max']:.{digits}f})"
    return s


def runs(n):
    """How many runs a figure is the median of, as a phrase."""
    return "one run" if n == 1 else f"median of {n} runs"


def count(n):
    """A count as the README writes it: 10 000."""
    return f"{n:,}".replace(",", " ")


def verdict(ok):
    if ok is None:
        return "–"
    return "meets" if ok else "**misses**"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--mode", default="full")
    p.add_argument("--seconds", default="?")
    a = p.parse_args()
    micro = read_kv(os.path.join(a.dir, "micro.txt"))
    crit = criterion_medians(os.path.join(a.dir, "criterion.log"))
    calls_path = os.path.join(a.dir, "calls.json")
    c = json.load(open(calls_path)) if os.path.exists(calls_path) else {}

    rows = []

    def row(figure, target, result, ok, how):
        rows.append(f"| {figure} | {target} | {result} | {verdict(ok)} | {how} |")

    if "cpu" in c:
        cpu = c["cpu"]
        med = cpu["per_call_ms"]["median"]
        row("PBX CPU per call", "≤ 1 ms",
            f"{ms(cpu['per_call_ms'])}. Without OTRSTicket(): {ms(cpu['base_call_ms'])}; without it but kept up "
            f"22 ms by Wait(): {ms(cpu.get('wait_call_ms'))}; so OTRSTicket() itself: {ms(cpu['module_ms'])}",
            med is not None and med <= 1.0,
            f"utime+stime of the Asterisk process (/proc/PID/stat) over {cpu['calls_per_run']} AMI-originated "
            f"Local calls ({cpu['concurrency']} at a time) running the README's dialplan (OTRSTicket(), then a "
            f"UserEvent telling the driver the call is done, Hangup), minus its idle CPU over the same wall time "
            f"({f(c.get('idle_cpu_ms_per_s'), 2)} ms/s); {runs(cpu['per_call_ms']['runs'])}, the three "
            f"kinds of call interleaved")
    if "cpu" in c and "sequential" in c["cpu"]:
        sq = c["cpu"]["sequential"]
        extra_cpu = (f"PBX CPU per call with one call at a time (~40 calls/s): {ms(sq['per_call_ms'])}; the same "
                     f"call without OTRSTicket() kept up by Wait(): {ms(sq['wait_call_ms'])}; so OTRSTicket() itself "
                     f"{ms(sq['module_ms'])} ({sq['calls_per_run']} calls per run)")
    else:
        extra_cpu = None
    if "latency" in c:
        l = c["latency"]
        row("Wall time added on top of OTRS (stand-in)", "p99 ≤ 5 ms",
            f"p99 {f(l['added_p99_ms'])} ms, p50 {f(l['added_p50_ms'])} ms (time in OTRSTicket() p50 "
            f"{f(l['inside_p50_ms'])} / p99 {f(l['inside_p99_ms'])} ms; stand-in's own reply p50 "
            f"{f(l['standin_p50_ms'])} / p99 {f(l['standin_p99_ms'])} ms)",
            l["added_p99_ms"] <= 5.0,
            f"{l['calls']} sequential calls; dialplan timestamps around OTRSTicket() minus the median reply "
            f"time of the stand-in ({l['standin_delay_ms']} ms delay) to a direct client sending the same "
            f"request, interleaved with the calls")
    if "lookup_small_p99_us" in micro:
        s99, l99 = float(micro["lookup_small_p99_us"]), float(micro["lookup_large_p99_us"])
        ratio = float(micro["lookup_p99_ratio"])
        few = micro.get("lookup_p99_ratio_few")
        row("Customer lookup, 100 000 vs 10 customers", "p99 ≤ 1.2× the 10's; both ≤ 2 ms",
            f"10: p99 {s99:.2f} µs; 100 000: p99 {l99:.2f} µs (runs {micro.get('lookup_large_p99_spread_us', '?')} µs); "
            f"ratio {ratio:.2f}; with callers from only 7 of the 100 000 numbers: ratio {few}",
            ratio <= 1.2 and l99 <= 2000 and s99 <= 2000,
            f"CustomerIndex::lookup loaded from MariaDB (refresh_full), each lookup timed alone, "
            f"{micro.get('lookup_large_runs', '?')} lookups, 90 % hits, 5 number formats (criterion bench `lookup`)")
    scale_rows(row, c, micro)
    if "lookup" in c:
        lk = c["lookup"]
        sm, lg = lk["small"], lk["large"]
        row("… the same inside real calls", "(as above)",
            f"10 customers: p50 {f(sm['lookup_p50_us'])} / p99 {f(sm['lookup_p99_us'])} µs; 100 000: p50 "
            f"{f(lg['lookup_p50_us'])} / p99 {f(lg['lookup_p99_us'])} µs (ratio {f(lk['p99_ratio'])}; longest "
            f"since load {f(sm['lookup_max_us'], 1)} / {f(lg['lookup_max_us'], 1)} µs). Whole OTRSTicket() p99 "
            f"{f(sm['p99_ms'])} / {f(lg['p99_ms'])} ms",
            lk["p99_ratio"] <= 1.2 and lg["lookup_p99_us"] <= 2000,
            f"the module's own timing of each call's lookup (`otrs show status`, last {lg['lookup_samples']} calls), "
            f"{sm['calls']} sequential calls at each size, 90 % known callers in 5 formats, at 100 000 drawn from "
            f"the whole table ({lg['hits']} matched); the module reloaded with a database of "
            f"{lk.get('large_customers')} customers")
        fresh = [lk.get("fresh_new_s"), lk.get("fresh_changed_s")]
        row("New / changed customer found", "≤ 60 s",
            f"new {f(fresh[0], 1, ' s')}, changed number {f(fresh[1], 1, ' s')}",
            all(x is not None and x <= 60 for x in fresh),
            "row inserted / phone updated in MariaDB (100 000 customers), then a call every 0.5 s until "
            f"OTRSCUSTOMERUSER names it; refresh_interval {c.get('refresh_interval_s')} s")
    if "memory" in c:
        m = c["memory"]
        half = m["calls"] // 2
        # the target as this run checked it: flat over its own second half
        row(f"Asterisk RSS over {m['calls']} calls",
            f"≤ 10 MiB above RSS after load; flat from {count(half)} to {count(m['calls'])}",
            f"right after loading the module {f(m['rss_after_load_mib'], 1)} MiB; {f(m['rss_half_mib'], 1)} MiB "
            f"at {half} calls, {f(m['rss_end_mib'], 1)} MiB at {m['calls']}: +{f(m['growth_since_load_mib'], 1)} MiB, "
            f"second half +{f(m['growth_second_half_mib'], 1)} MiB. (Asterisk alone: {f(m['rss_at_start_mib'], 1)} MiB "
            f"at start, {f(m['rss_after_warm_mib'], 1)} MiB after {m['warm_calls']} calls without the module)",
            m["growth_since_load_mib"] <= 10 and m["growth_second_half_mib"] <= 1.0,
            f"VmRSS of the Asterisk process. Asterisk first warms up with {m['warm_calls']} calls without the "
            "module (its own allocator arenas grow by tens of MiB, module or not), then the module is unloaded "
            "and loaded; the module's calls run 20 at a time; flat = at most 1 MiB over the second half")
    if "burst" in c:
        b = c["burst"]
        tps = b["tickets_per_s"]
        row("Throughput, 200 calls at once", "≥ 50 tickets/s",
            f"{f(tps['median'], 0)} tickets/s" + (f" (runs {tps['min']:.0f}–{tps['max']:.0f})" if tps["runs"] > 1 else "")
            + f"; time in OTRSTicket() p99 {f(b['inside_p99_ms']['median'], 1)} ms; failed {b['failed']}",
            tps["median"] is not None and tps["median"] >= 50 and b["failed"] == 0,
            "200 AMI originates sent at once; tickets created / (last result − first originate); stand-in 20 ms")
    if "rest" in c:
        rs = c["rest"]
        sm, rm = rs["soap_module_ms"]["median"], rs["rest_module_ms"]["median"]
        row("REST beside SOAP (api = rest)", "REST with connection reuse costs the PBX less than SOAP",
            f"OTRSTicket() itself: SOAP {f(sm)} ms, REST {f(rm)} ms of PBX CPU per call (whole call "
            f"{f(rs['soap_per_call_ms']['median'])} / {f(rs['rest_per_call_ms']['median'])} ms, kept up by Wait() "
            f"{f(rs['wait_call_ms']['median'])} ms); time in OTRSTicket() p50 {f(rs.get('soap_inside_p50_ms'))} / "
            f"{f(rs.get('rest_inside_p50_ms'))} ms, p99 {f(rs.get('soap_inside_p99_ms'))} / {f(rs.get('rest_inside_p99_ms'))} ms "
            f"(stand-in 20 ms); failed {rs['failed']}",
            sm is not None and rm is not None and rm < sm and rs["failed"] == 0,
            f"{rs['calls_per_run']} calls per protocol and run ({rs['concurrency']} at a time), interleaved with the same call "
            "kept up by Wait(); one stand-in serving both web services: SOAP replies close the connection (as Znuny's), "
            "REST replies keep it (as Znuny's)")
    if "reuse" in c:
        r = c["reuse"]
        ka = c.get("keepalive", {})
        seq, conc, b2 = ka.get("sequential", {}), ka.get("20_at_a_time", {}), ka.get("burst_2", {})
        lk = c.get("lookup", {})
        ok = None
        if seq:
            ok = seq["new_connections"] <= 1 and conc.get("new_connections", 99) <= 20 and r["mysql_connections"] <= max(2, r["seconds"] / 10)
        row("Connections reused", "keep-alive to OTRS, pooled MySQL, never opened per call",
            f"Stand-in (answers `Connection: close`, as Znuny does): {r['standin_requests']} requests on "
            f"{r['standin_connections']} connections, no reuse possible. Keep-alive OTRS: {seq.get('requests', '?')} "
            f"sequential requests opened {seq.get('new_connections', '?')} new connections; "
            f"{conc.get('requests', '?')} requests 20 at a time opened {conc.get('new_connections', '?')}; "
            f"a second burst of 200 opened {b2.get('new_connections', '?')}. MariaDB: {r['mysql_connections']} "
            f"connection(s) during {r['calls']} calls ({f(r['seconds'], 0)} s); at 100 000 customers "
            f"{lk.get('mysql_connections_idle_large', '?')} in {lk.get('idle_large_seconds', '?')} s idle",
            ok,
            "stand-in log (it closes every connection after its reply); bench/keepalive_otrs.py counts accepted connections; "
            "MariaDB `SHOW GLOBAL STATUS LIKE 'Connections'` before/after (own queries subtracted)")
    burst_path = os.path.join(a.dir, "burst.json")
    bu = json.load(open(burst_path)) if os.path.exists(burst_path) else {}
    if "down" in bu:
        d, u, tgt = bu["down"], bu.get("up", {}), bu["target_ms"]
        one = lambda x: x.get("tickets") == bu["calls"] and x.get("distinct_calls") == bu["calls"] and x.get("jobs_left") == 0
        row(f"{bu['calls']}-call burst, spool on a throttled disk", f"p99 ≤ timeout + 100 ms = {tgt} ms; one ticket per call",
            f"OTRS down (all spooled): p50 {f(d['p50_ms'], 0)} ms, p99 {f(d['p99_ms'], 0)} ms, max {f(d['max_ms'], 0)} ms; "
            f"{d['went_on_before_durable']} calls went on before their job was durable, all {d['jobs_on_disk']} jobs on disk "
            f"{d.get('all_durable_after_s')} s after the first call; OTRS back: {d['tickets']} tickets for "
            f"{d['distinct_calls']} calls, {d['jobs_left']} jobs left. OTRS up: p50 {f(u.get('p50_ms'), 0)} ms, "
            f"p99 {f(u.get('p99_ms'), 0)} ms, max {f(u.get('max_ms'), 0)} ms, {u.get('tickets')} tickets for "
            f"{u.get('distinct_calls')} calls",
            d["p99_ms"] <= tgt and u.get("p99_ms", 1e9) <= tgt and one(d) and one(u),
            f"bench/burst.py: spool on a loop-mounted ext4 image in the sandbox, Asterisk's writes to it throttled "
            f"({bu['throttle']}), timeout {bu['timeout_ms']} ms; OTRS down = nothing listening on its port; "
            f"{bu['calls']} AMI Originates at once, time inside OTRSTicket() from dialplan timestamps; "
            "tickets counted by call key in the stand-in")
    if "crash" in bu:
        c9 = bu["crash"]
        row("kill -9 right after the burst (crash window)", "– (what it costs)",
            f"{c9['went_on_before_durable']} of {bu['calls']} calls went on with their job not yet durable; after the kill "
            f"{c9['jobs_on_disk_after_kill']} jobs were on disk and became {c9['tickets']} tickets; lost: {c9['lost']} of "
            f"{bu['calls']} calls",
            None,
            "the same burst, OTRS down, Asterisk killed (SIGKILL) as soon as the last call had gone on; restarted "
            "with the stand-in up, tickets counted once the spool was empty")
    out = []
    out.append(f"Run: `scripts/bench.sh{' --quick' if a.mode == 'quick' else ''}` ({a.mode}, {a.seconds} s). "
               f"Machine: {machine()}.")
    if a.mode == "quick":
        out.append("")
        out.append("Quick mode: short runs, figures are indicative only.")
    out.append("")
    out.append("| figure | target | result | verdict | how |")
    out.append("|---|---|---|---|---|")
    out.extend(rows)
    if crit:
        out.append("")
        out.append("Micro-benchmarks (criterion, median time per operation):")
        out.append("")
        out.append("| benchmark | median |")
        out.append("|---|---|")
        for k, v in crit.items():
            out.append(f"| `{k}` | {v} |")
    extra = []
    if extra_cpu:
        extra.append(extra_cpu)
    if "lookup_large_load_ms" in micro:
        extra.append(f"loading 100 000 customers (refresh_full): {micro['lookup_large_load_ms']} ms, "
                     f"+{micro.get('lookup_large_rss_mib')} MiB RSS in the loading process")
    if "refresh_large_rows" in micro:
        extra.append(f"the first incremental pass after loading 100 000 customers that share one change_time "
                     f"(a bulk import) reads them once more: {micro['refresh_large_rows']} rows in "
                     f"{micro['refresh_large_ms']} ms; the passes after it "
                     f"{micro.get('refresh_large_settled_rows', '?')} rows in {micro.get('refresh_large_settled_ms', '?')} ms "
                     f"(10 customers: {micro.get('refresh_small_rows')} rows, {micro.get('refresh_small_ms')} ms)")
    if "refresh_large_edit_ms" in micro:
        extra.append(f"an edit of {micro['refresh_large_edit_changed']} customers at once, applied in place at 100 000: "
                     f"{micro['refresh_large_edit_ms']} ms, the index locked at most "
                     f"{micro.get('refresh_large_edit_hold_us')} µs at a time, the longest lookup meanwhile "
                     f"{micro.get('refresh_large_edit_max_lookup_us')} µs")
    if "lookup" in c:
        lk = c["lookup"]
        extra.append(f"Asterisk idle CPU: {f(c.get('idle_cpu_ms_per_s'))} ms/s at 10 customers, "
                     f"{f(lk.get('idle_cpu_ms_per_s_large'))} ms/s at 100 000 (refresh_interval "
                     f"{c.get('refresh_interval_s')} s); Asterisk RSS with 100 000 customers loaded: "
                     f"{f(lk.get('rss_large_mib'), 1)} MiB; index loaded in {f(lk.get('large_load_s'), 1)} s "
                     "after `module reload`")
    if "reload_large_max_lookup_us" in micro:
        extra.append(f"during a full reload of 100 000 customers ({micro['reload_large_ms']} ms) the longest single "
                     f"lookup took {int(micro['reload_large_max_lookup_us']) / 1000:.1f} ms "
                     f"({micro['reload_large_slow_lookups']} lookups over 1 ms); at 10 customers "
                     f"{int(micro.get('reload_small_max_lookup_us', 0)) / 1000:.1f} ms")
    if "refresh_large_one_changed_ms" in micro:
        extra.append(f"an incremental refresh with one changed customer at 100 000: "
                     f"{micro.get('refresh_large_one_changed_rows', '?')} row(s), "
                     f"{micro['refresh_large_one_changed_ms']} ms (+{micro['refresh_large_one_changed_rss_mib']} MiB RSS); "
                     f"the next pass {micro.get('refresh_large_steady_rows', '?')} row(s), "
                     f"{micro.get('refresh_large_steady_ms')} ms")
    rr = crit.get("flow/recent_remember/100000")
    if rr:
        extra.append(f"`RecentTickets::remember` (every created ticket) with 100 000 remembered tickets: {rr} "
                     f"per call (1 000: {crit.get('flow/recent_remember/1000')})")
    for k in ("client_create_ticket_close", "client_create_ticket_keepalive", "client_create_ticket_rest_close",
              "client_create_ticket_rest_keepalive"):
        if f"{k}_requests" in micro:
            extra.append(f"`{k.replace('client_', 'client/')}`: {micro[k + '_requests']} requests on "
                         f"{micro[k + '_connections']} connection(s)")
    if extra:
        out.append("")
        out.append("Also measured:")
        out.append("")
        out.extend(f"- {e}" for e in extra)
    print("\n".join(out))


if __name__ == "__main__":
    main()
