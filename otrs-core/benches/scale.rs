//! The customer index at scale, one source at a time, as the module's
//! refresher drives it: a full load (time, and the growth of this
//! process's RSS, i.e. what the index adds to Asterisk's), incremental
//! passes with nothing changed (the fourth, 12 s after the load: the passes
//! within the slack after a bulk import reread the rows that share its
//! change time, see README), and the
//! lookup's tail (each lookup timed alone, 90 % known callers) against the
//! same source's 10 sample customers.
//!
//! Prepared by scripts/bench.sh (`scale` step); run alone with
//!   OTRS_SCALE_SECTIONS=FILE cargo bench -p otrs-core --bench scale
//! where FILE holds otrs.conf sections: `[customers-<name>]` sources, each
//! with `bench_callers = N` (its customers' numbers are 8 9NN 0000001 ...
//! up to N, as the generators write them: NN in `bench_prefix`) and
//! `bench_small` naming the source section with the 10 samples to compare.
//! Results: stdout, and OTRS_BENCH_OUT=FILE appends key=value lines.

use std::io::Write;
use std::time::{Duration, Instant};

use otrs_core::config::{self, Section};
use otrs_core::customers::build_index;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(';')) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Section { name: name.to_string(), entries: Vec::new() });
        } else if let (Some((k, v)), Some(s)) = (line.split_once('='), out.last_mut()) {
            s.entries.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn p99_us(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64) * 0.99) as usize].max(0.0)
}

/// Lookups of `callers` (each timed alone), 7 rounds; the p99 in µs.
fn lookup_p99(index: &otrs_core::customers::CustomerIndex, callers: &[String]) -> f64 {
    let mut times = Vec::with_capacity(callers.len() * 7);
    for _ in 0..7 {
        for c in callers {
            let t = Instant::now();
            let l = index.lookup(c);
            times.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(l.ok());
        }
    }
    p99_us(times)
}

/// 90 % known callers of a source of `n` numbers `8 9<prefix> <7 digits>`
/// (every fourth with a `+7` form), 10 % unknown.
fn callers(prefix: &str, n: u64, count: usize) -> Vec<String> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = 1 + x % n.max(1);
            if i % 10 == 9 {
                format!("8999{:07}", k % 10_000_000)
            } else if i % 4 == 0 {
                format!("+7 9{prefix} {:07}", k)
            } else {
                format!("89{prefix}{:07}", k)
            }
        })
        .collect()
}

fn main() {
    let quick = std::env::var("OTRS_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let Ok(file) = std::env::var("OTRS_SCALE_SECTIONS") else {
        eprintln!("scale: OTRS_SCALE_SECTIONS not set (scripts/bench.sh sets it); nothing measured");
        return;
    };
    let text = std::fs::read_to_string(&file).expect("OTRS_SCALE_SECTIONS file");
    let mut out = std::env::var("OTRS_BENCH_OUT")
        .ok()
        .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).expect("OTRS_BENCH_OUT"));
    let mut report = |k: &str, v: String| {
        println!("{k}={v}");
        if let Some(f) = out.as_mut() {
            let _ = writeln!(f, "{k}={v}");
        }
    };
    let all = sections(&text);
    let general = Section {
        name: "general".into(),
        entries: [("url", "http://127.0.0.1:9/otrs"), ("user", "x"), ("password", "x"), ("unknown_customer", "unknown")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("country_code", "7"), ("national_prefix", "8")].iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
    };
    for s in all.iter().filter(|s| s.entries.iter().any(|(k, _)| k == "bench_callers")) {
        let get = |k: &str| s.entries.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let n: u64 = get("bench_callers").parse().expect("bench_callers");
        let prefix = get("bench_prefix");
        let strip = |s: &Section| Section {
            name: s.name.clone(),
            entries: s.entries.iter().filter(|(k, _)| !k.starts_with("bench_")).cloned().collect(),
        };
        let profile = Section { name: "default".into(), entries: vec![("queue".into(), "Raw".into())] };
        let conf = |s: &Section| config::from_sections(&[general.clone(), profile.clone(), strip(s)]).expect("scale sections").0;
        let label = s.name.trim_start_matches("customers-").to_string();

        let c = conf(s);
        let index = build_index(&c.customers, &c.general.plan);
        let rss0 = rss_kib();
        let t = Instant::now();
        let stats = index.refresh_full().expect("full load");
        let load = t.elapsed();
        let rss1 = rss_kib();
        report(&format!("scale_{label}_customers"), stats.customers.to_string());
        report(&format!("scale_{label}_full_load_s"), format!("{:.2}", load.as_secs_f64()));
        report(&format!("scale_{label}_rss_mib"), format!("{:.1}", (rss1.saturating_sub(rss0)) as f64 / 1024.0));
        let mut passes: Vec<Duration> = Vec::new();
        for pass in 0..4 {
            // As the refresher's passes are spaced: once the import is more
            // than the slack (5 s) behind, its rows are not read again.
            if (pass == 1 || pass == 2) && !quick {
                std::thread::sleep(Duration::from_secs(6));
            }
            let t = Instant::now();
            let st = index.refresh_changed().expect("incremental");
            passes.push(t.elapsed());
            if st.full {
                report(&format!("scale_{label}_incremental_note"), "no changed column: full reloads only".into());
            }
        }
        let steady = passes[3];
        report(&format!("scale_{label}_incremental_ms"), format!("{:.2}", steady.as_secs_f64() * 1e3));
        report(&format!("scale_{label}_first_incremental_ms"), format!("{:.1}", passes[0].as_secs_f64() * 1e3));
        let big = callers(&prefix, n, 200_000);
        let hits = big.iter().filter(|c| index.lookup(c).ok().and_then(|l| l.customer).is_some()).count();
        report(&format!("scale_{label}_lookup_hits_pct"), format!("{:.0}", 100.0 * hits as f64 / big.len() as f64));
        let p_big = lookup_p99(&index, &big);
        report(&format!("scale_{label}_lookup_p99_us"), format!("{p_big:.2}"));
        drop(index);

        if let Some(small) = all.iter().find(|x| x.name == get("bench_small")) {
            let c = conf(small);
            let index = build_index(&c.customers, &c.general.plan);
            index.refresh_full().expect("small load");
            let few = callers(&prefix, 10, 200_000);
            let p_small = lookup_p99(&index, &few);
            report(&format!("scale_{label}_small_lookup_p99_us"), format!("{p_small:.2}"));
            report(&format!("scale_{label}_lookup_ratio"), format!("{:.2}", p_big / p_small.max(1e-9)));
        }
    }
}
