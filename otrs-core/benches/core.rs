//! Micro-benchmarks of the call path's pure parts (criterion), and the
//! customer lookup at 10 and at 100 000 customers.
//!
//!   cargo bench -p otrs-core --bench core                  everything
//!   cargo bench -p otrs-core --bench core -- number         one group
//!   OTRS_BENCH_QUICK=1 cargo bench -p otrs-core --bench core   short (CI)
//!
//! Groups: `number` (caller ID normalisation), `soap` (TicketCreate request
//! building, reply parsing), `flow` (the ticket texts of one call),
//! `client` (one TicketCreate through the real HTTP client against a local
//! server that answers at once: what the module itself spends per request,
//! with and without keep-alive), `lookup` (CustomerIndex::lookup).
//!
//! The lookup needs customers in MariaDB, read the way the module reads
//! them (`CustomerIndex::refresh_full`); scripts/bench.sh prepares two
//! databases and sets:
//!   OTRS_BENCH_DB        mysql://user:password@host:port (no database)
//!   OTRS_BENCH_DB_SMALL  database with the 10 sample customers (default otrs_bench_small)
//!   OTRS_BENCH_DB_LARGE  database with them plus 100 000 bulk customers
//!                        from tests/sql/bulk-customers.sh (default otrs_bench_large)
//! Without OTRS_BENCH_DB the lookup group is skipped.
//!
//! Besides criterion's means, the lookup's tail is measured directly: each
//! lookup timed on its own over a shuffled mix of caller IDs (90 % hits,
//! 10 % misses, five ways of writing a number), repeated; p50/p99/p99.9 are
//! printed and, with OTRS_BENCH_OUT=FILE, appended to FILE as key=value
//! lines for scripts/bench.sh's table.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput};

use otrs_core::call::flow::{self, Caller};
use otrs_core::call::recent::RecentTickets;
use otrs_core::call::CallInfo;
use otrs_core::config::{self, Config, Section};
use otrs_core::customers::{Customer, CustomerIndex, DbSettings};
use otrs_core::number::{canonical, NumberPlan};
use otrs_core::otrs::generic::{self as soap, Auth};
use otrs_core::otrs::generic_client::GenericClient;
use otrs_core::otrs::rest_client::RestClient;
use otrs_core::otrs::{NewTicket, Settings, TicketApi, TicketCreated};

fn quick() -> bool {
    std::env::var("OTRS_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The number plan of the tests and of the bench's otrs.conf (Russia).
fn plan() -> NumberPlan {
    NumberPlan {
        country_code: "7".into(),
        national_prefix: "8".into(),
        international_prefixes: vec!["00".into(), "810".into()],
        national_number_length: Some(10),
    }
}

// ------------------------------------------------------------------ number

fn bench_number(c: &mut Criterion) {
    let plan = plan();
    let mut g = c.benchmark_group("number");
    g.throughput(Throughput::Elements(1));
    for (name, raw) in [
        ("national", "89161229624"),
        ("plus", "+79161229624"),
        ("formatted", "+7 (916) 122-96-24"),
        ("intl_prefix", "0079161229624"),
        ("extension", "8 916 122 9624 доб. 12"),
        ("foreign", "+44 20 7946 0958"),
        ("anonymous", "anonymous"),
    ] {
        g.bench_with_input(BenchmarkId::new("canonical", name), raw, |b, raw| b.iter(|| canonical(black_box(raw), &plan)));
    }
    g.bench_function("sanitize_caller", |b| {
        b.iter(|| otrs_core::number::sanitize_caller(black_box("+7 (916) 122-96-24\u{202e}\r\n")))
    });
    g.finish();
}

// ------------------------------------------------------------------ soap

/// Znuny 6.5's replies, byte for byte (tests/fixtures/otrs/generic-interface 01, 03, 23).
const ENVELOPE_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>"#;
const ENVELOPE_TAIL: &str = "</soap:Body></soap:Envelope>";
const TICKET_CREATED: &str = r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><ArticleID>2</ArticleID><TicketID>2</TicketID><TicketNumber>2026112610000015</TicketNumber></TicketCreateResponse>"#;
const SESSION_CREATED: &str = r#"<SessionCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><SessionID>sgZ4snBxlE2EvDquEz35suMnGXWugGF3</SessionID></SessionCreateResponse>"#;
const CUSTOMER_INVALID: &str = r#"<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/"><Error><ErrorCode>TicketCreate.InvalidParameter</ErrorCode><ErrorMessage>TicketCreate: Ticket-&gt;CustomerUser parameter is invalid!</ErrorMessage></Error></TicketCreateResponse>"#;
const XML: &str = "text/xml; charset=UTF-8";

fn reply(inner: &str) -> Vec<u8> {
    format!("{ENVELOPE_HEAD}{inner}{ENVELOPE_TAIL}").into_bytes()
}

fn sample_ticket() -> NewTicket {
    NewTicket {
        title: "Call from Ivan Ivanov (89161229624) [call:1732612345.42]".into(),
        queue: "Raw".into(),
        state: "new".into(),
        priority: "3 normal".into(),
        ticket_type: None,
        customer_user: "ivanov".into(),
        subject: "Phone call from 89161229624".into(),
        body: "Incoming call from 89161229624 at 2026-11-26 10:00:00.\nCustomer: Ivan Ivanov (login ivanov, customer ACME).\nDialled: 4509@otrs, channel PJSIP/trunk-0000002a, call 1732612345.42.".into(),
        from: None,
        dynamic_fields: Vec::new(),
    }
}

fn bench_soap(c: &mut Criterion) {
    let t = sample_ticket();
    let mut g = c.benchmark_group("soap");
    g.throughput(Throughput::Elements(1));
    g.bench_function("build_ticket_create", |b| {
        b.iter(|| soap::ticket_create(&Auth::Session(black_box("sgZ4snBxlE2EvDquEz35suMnGXWugGF3")), black_box(&t)))
    });
    let created = reply(TICKET_CREATED);
    g.bench_function("parse_ticket_create", |b| {
        b.iter(|| soap::parse_ticket_create(200, XML, black_box(&created)).expect("sample 03 parses"))
    });
    let error = reply(CUSTOMER_INVALID);
    g.bench_function("parse_ticket_create_error", |b| {
        b.iter(|| soap::parse_ticket_create(200, XML, black_box(&error)).expect_err("sample 23 is an error"))
    });
    let session = reply(SESSION_CREATED);
    g.bench_function("parse_session_create", |b| {
        b.iter(|| soap::parse_session_create(200, XML, black_box(&session)).expect("sample 01 parses"))
    });
    g.finish();
}

// ------------------------------------------------------------------ flow

fn bench_config() -> Config {
    let section = |name: &str, entries: &[(&str, &str)]| Section {
        name: name.into(),
        entries: entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let sections = [
        section(
            "general",
            &[
                ("url", "http://127.0.0.1:8089/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
                ("user", "soapagent"),
                ("password", "SoapAgent2024"),
                ("dbuser", "otrs"),
                ("dbpass", "otrs-test-pw"),
                ("country_code", "7"),
                ("national_prefix", "8"),
                ("international_prefix", "00,810"),
                ("national_number_length", "10"),
                ("unknown_customer", "unknown"),
            ],
        ),
        // The sample config's default texts.
        section("default", &[("queue", "Raw")]),
    ];
    config::from_sections(&sections).expect("bench config is valid").0
}

fn bench_flow(c: &mut Criterion) {
    let config = bench_config();
    let profile = config.profile("default").expect("[default]").clone();
    let call = CallInfo {
        caller: "89161229624".into(),
        channel: "PJSIP/trunk-0000002a".into(),
        uniqueid: "1732612345.42".into(),
        linkedid: "1732612345.42".into(),
        exten: "4509".into(),
        context: "otrs".into(),
        node: "pbx-a".into(),
    };
    let customer = Arc::new(Customer::new("ivanov", "ACME", "Ivan", "Ivanov", "ivanov@example.invalid"));
    let when = SystemTime::now();
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ticket_for", |b| {
        b.iter(|| {
            let caller =
                Caller { display: flow::display_caller(&call.caller), customer: Some(customer.clone()), matches: Some(1) };
            flow::ticket_for(&config, &profile, black_box(&call), &caller, when)
        })
    });
    g.bench_function("ticket_for_and_build", |b| {
        b.iter(|| {
            let caller =
                Caller { display: flow::display_caller(&call.caller), customer: Some(customer.clone()), matches: Some(1) };
            let t = flow::ticket_for(&config, &profile, black_box(&call), &caller, when);
            soap::ticket_create(&Auth::Session("sgZ4snBxlE2EvDquEz35suMnGXWugGF3"), &t)
        })
    });
    // Every created ticket is remembered for repeat calls (call/recent.rs,
    // RecentTickets::remember), keyed by login or, for unknown callers, by
    // number, so distinct unknown callers fill the map. The cost of one
    // call's remember() with the map at a given size (existing keys are
    // re-remembered, so the size stays put while criterion iterates).
    let created = TicketCreated { ticket_id: "2".into(), ticket_number: "2026112610000015".into(), article_id: "2".into() };
    for filled in [1_000u64, 100_000] {
        let recent = RecentTickets::default();
        let keys: Vec<String> = (0..filled).map(|i| format!("number:97{i:08}")).collect();
        for k in &keys {
            recent.remember(k, &created, std::time::Duration::from_secs(3600));
        }
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("recent_remember", filled), &filled, |b, _| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                recent.remember(&keys[i], &created, std::time::Duration::from_secs(3600))
            })
        });
    }
    g.finish();
}

// ------------------------------------------------------------------ client

/// A local HTTP server answering every SOAP request at once with Znuny's
/// replies; counts the connections it accepted.
struct LocalOtrs {
    url: String,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl LocalOtrs {
    fn start(keep_alive: bool) -> LocalOtrs {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (acc, req) = (accepted.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                acc.fetch_add(1, Ordering::Relaxed);
                let req = req.clone();
                std::thread::spawn(move || serve(stream, keep_alive, &req));
            }
        });
        LocalOtrs {
            url: format!("http://{addr}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
            accepted,
            requests,
        }
    }
}

fn serve(stream: TcpStream, keep_alive: bool, requests: &AtomicUsize) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let session = reply(SESSION_CREATED);
    let created = reply(TICKET_CREATED);
    // the REST connector's replies (tests/fixtures/otrs/rest 01, 03)
    let rest_session = br#"{"SessionID":"Gbcc8KFQU9ZeLDvoVDVBwRAIVoLq9jCZ"}"#.to_vec();
    let rest_created = br#"{"ArticleID":"617","TicketID":"860","TicketNumber":"2026120110011111"}"#.to_vec();
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut first = true;
        let mut rest = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if std::mem::take(&mut first) {
                rest = line.contains("GenericTicketConnectorREST");
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        let is_session = body.windows(15).any(|w| w == b"<tic:SessionCre") || (rest && !body.starts_with(b"{\n  \"SessionID\""));
        let payload = match (rest, is_session) {
            (false, true) => &session,
            (false, false) => &created,
            (true, true) => &rest_session,
            (true, false) => &rest_created,
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            if rest { "application/json; charset=UTF-8" } else { XML },
            payload.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(payload)).is_err() {
            return;
        }
        if !keep_alive {
            return;
        }
    }
}

fn bench_client(c: &mut Criterion, out: &mut Report) {
    let ticket = sample_ticket();
    let mut g = c.benchmark_group("client");
    g.throughput(Throughput::Elements(1));
    for (keep_alive, rest) in [(false, false), (true, false), (false, true), (true, true)] {
        let server = LocalOtrs::start(keep_alive);
        let settings = Settings {
            url: match rest {
                true => server.url.replace("GenericTicketConnectorSOAP", "GenericTicketConnectorREST"),
                false => server.url.clone(),
            },
            user: "soapagent".into(),
            password: "SoapAgent2024".into(),
            ..Settings::default()
        };
        let client: Box<dyn TicketApi> = match rest {
            true => Box::new(RestClient::new(settings)),
            false => Box::new(GenericClient::new(settings)),
        };
        let name = match (rest, keep_alive) {
            (false, true) => "create_ticket_keepalive",
            (false, false) => "create_ticket_close",
            (true, true) => "create_ticket_rest_keepalive",
            (true, false) => "create_ticket_rest_close",
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                client
                    .create(black_box(&ticket), None, Instant::now() + Duration::from_secs(3))
                    .expect("local server creates the ticket")
            })
        });
        let (conns, reqs) = (server.accepted.load(Ordering::Relaxed), server.requests.load(Ordering::Relaxed));
        println!("client/{name}: {reqs} requests over {conns} connections");
        out.put(&format!("client_{name}_requests"), reqs.to_string());
        out.put(&format!("client_{name}_connections"), conns.to_string());
    }
    g.finish();
}

// ------------------------------------------------------------------ lookup

struct BenchDb {
    host: String,
    port: u16,
    user: String,
    password: String,
}

/// `mysql://user:password@host:port`.
fn bench_db() -> Option<BenchDb> {
    let url = std::env::var("OTRS_BENCH_DB").ok().filter(|u| !u.is_empty())?;
    let rest = url.strip_prefix("mysql://").expect("OTRS_BENCH_DB: mysql://user:password@host:port");
    let (cred, addr) = rest.rsplit_once('@').expect("OTRS_BENCH_DB: user:password@ missing");
    let (user, password) = cred.split_once(':').unwrap_or((cred, ""));
    let addr = addr.trim_end_matches('/');
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "3306"));
    Some(BenchDb {
        host: host.into(),
        port: port.parse().expect("OTRS_BENCH_DB port"),
        user: user.into(),
        password: password.into(),
    })
}

fn settings(db: &BenchDb, name: &str) -> DbSettings {
    DbSettings {
        host: db.host.clone(),
        port: db.port,
        name: name.into(),
        user: db.user.clone(),
        password: db.password.clone(),
        socket: None,
        connect_timeout: Duration::from_secs(5),
        query_timeout: Duration::from_secs(60),
    }
}

fn load_index(db: &BenchDb, name: &str, out: &mut Report, label: &str) -> CustomerIndex {
    let rss_before = rss_kib();
    let index = CustomerIndex::new(settings(db, name), plan());
    let stats = index.refresh_full().unwrap_or_else(|e| panic!("loading customers from {name}: {e}"));
    let rss_after = rss_kib();
    println!(
        "lookup/{label}: {} customers, {} numbers, full load {:.1} ms, RSS +{:.1} MiB",
        stats.customers,
        stats.numbers,
        stats.elapsed.as_secs_f64() * 1e3,
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );
    out.put(&format!("lookup_{label}_customers"), stats.customers.to_string());
    out.put(&format!("lookup_{label}_load_ms"), format!("{:.1}", stats.elapsed.as_secs_f64() * 1e3));
    out.put(&format!("lookup_{label}_rss_mib"), format!("{:.1}", (rss_after.saturating_sub(rss_before)) as f64 / 1024.0));
    index
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// A small deterministic generator (no rand dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The five ways a caller ID writes one national number.
fn written(nsn: &str, how: u64) -> String {
    match how % 5 {
        0 => format!("8{nsn}"),
        1 => format!("+7{nsn}"),
        2 => format!("+7 ({}) {}-{}-{}", &nsn[..3], &nsn[3..6], &nsn[6..8], &nsn[8..]),
        3 => nsn.to_string(),
        _ => format!("007{nsn}"),
    }
}

/// Caller IDs for one database: 90 % numbers of its customers, 10 % numbers
/// nobody has (97xxxxxxxx), every number in each of the five formats in
/// turn. `hits` are the national numbers stored there.
fn callers(hits: &dyn Fn(&mut Lcg) -> String, count: usize, seed: u64) -> Vec<String> {
    let mut rng = Lcg(seed);
    (0..count)
        .map(|i| {
            let nsn = if rng.below(10) == 0 { format!("97{:08}", rng.below(100_000_000)) } else { hits(&mut rng) };
            written(&nsn, i as u64)
        })
        .collect()
}

/// Callers of the large index, for lookups while it changes.
fn large_inputs_for_edit(large: &CustomerIndex) -> Vec<String> {
    let n = large.status().customers.max(1) as u64;
    callers(&|rng| bulk_number(rng, n), 10_000, 3)
}

/// National numbers of tests/sql/customers.sql's valid customers.
const SAMPLE_NUMBERS: [&str; 7] =
    ["9161229624", "9165551234", "9167770011", "9165550000", "9031234567", "4951234567", "9168889900"];

/// A national number of tests/sql/bulk-customers.sh's customer i (1..=n):
/// phone 920xxxxxxx, and for every fourth a mobile 930xxxxxxx.
fn bulk_number(rng: &mut Lcg, n: u64) -> String {
    let i = 1 + rng.below(n);
    if i.is_multiple_of(4) && rng.below(2) == 0 {
        format!("{}{:07}", 930 + i / 10_000_000, i % 10_000_000)
    } else {
        format!("{}{:07}", 920 + i / 10_000_000, i % 10_000_000)
    }
}

/// Percentiles of each lookup timed on its own, over `runs` runs.
struct Tail {
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    hits: usize,
    total: usize,
}

fn time_lookups(index: &CustomerIndex, inputs: &[String], per_run: usize, runs: usize) -> Tail {
    let mut tail = Tail { p50: vec![], p99: vec![], p999: vec![], hits: 0, total: 0 };
    let mut samples = vec![0u64; per_run];
    let mut rng = Lcg(7);
    // Warm-up: every input once.
    for raw in inputs {
        black_box(index.lookup(raw).expect("index loaded"));
    }
    for _ in 0..runs {
        for s in samples.iter_mut() {
            let raw = &inputs[rng.below(inputs.len() as u64) as usize];
            let t0 = Instant::now();
            let found = index.lookup(black_box(raw));
            let dt = t0.elapsed();
            *s = dt.as_nanos() as u64;
            if let Ok(l) = black_box(found) {
                tail.hits += usize::from(l.customer.is_some());
            }
            tail.total += 1;
        }
        samples.sort_unstable();
        let pct = |p: f64| samples[((p * per_run as f64).ceil() as usize).clamp(1, per_run) - 1] as f64 / 1e3;
        tail.p50.push(pct(0.50));
        tail.p99.push(pct(0.99));
        tail.p999.push(pct(0.999));
    }
    tail
}

/// Lookups on one thread while another does `refresh_full`: the longest
/// lookup (µs), how many took over 1 ms, and how long the reload took (ms).
fn lookups_during_reload(index: &CustomerIndex, inputs: &[String]) -> (f64, usize, f64) {
    lookups_during(index, inputs, || {
        index.refresh_full().expect("full reload");
    })
}

/// Lookups on one thread while another runs `work`: as above.
fn lookups_during(index: &CustomerIndex, inputs: &[String], work: impl FnOnce()) -> (f64, usize, f64) {
    use std::sync::atomic::AtomicBool;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let looker = s.spawn(|| {
            let (mut max, mut slow, mut i) = (Duration::ZERO, 0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                black_box(index.lookup(&inputs[i % inputs.len()]).ok());
                let dt = t0.elapsed();
                max = max.max(dt);
                slow += usize::from(dt > Duration::from_millis(1));
                i += 1;
            }
            (max, slow)
        });
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        work();
        let reload = t0.elapsed();
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        let (max, slow) = looker.join().expect("lookup thread");
        (max.as_secs_f64() * 1e6, slow, reload.as_secs_f64() * 1e3)
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.2}-{hi:.2}")
}

fn bench_lookup(c: &mut Criterion, out: &mut Report) {
    let Some(db) = bench_db() else {
        println!("lookup: skipped (set OTRS_BENCH_DB, see the top of benches/core.rs; scripts/bench.sh does)");
        return;
    };
    let small_db = std::env::var("OTRS_BENCH_DB_SMALL").unwrap_or_else(|_| "otrs_bench_small".into());
    let large_db = std::env::var("OTRS_BENCH_DB_LARGE").unwrap_or_else(|_| "otrs_bench_large".into());
    let small = load_index(&db, &small_db, out, "small");
    let large = load_index(&db, &large_db, out, "large");
    // What the refresher thread does every refresh_interval: an incremental
    // pass (rows changed since the newest change_time seen, minus the slack).
    for (label, index) in [("small", &small), ("large", &large)] {
        let s = index.refresh_changed().expect("incremental refresh");
        println!(
            "lookup/{label}: incremental refresh read {} rows ({} changed) in {:.1} ms",
            s.rows,
            s.changed,
            s.elapsed.as_secs_f64() * 1e3
        );
        out.put(&format!("refresh_{label}_rows"), s.rows.to_string());
        out.put(&format!("refresh_{label}_ms"), format!("{:.1}", s.elapsed.as_secs_f64() * 1e3));
    }
    // The refresher's passes are refresh_interval (15 s) apart. The pass
    // above came right after the load, so it reread the slack window (the
    // whole bulk import, which shares one change_time); so does the next one
    // here, but it starts more than the slack after the load, so the pass
    // after it rereads nothing old: what the refresher does from its second
    // pass on.
    {
        std::thread::sleep(Duration::from_secs(u64::from(otrs_core::customers::CHANGE_TIME_SLACK_SECS) + 1));
        let again = large.refresh_changed().expect("incremental refresh");
        let settled = large.refresh_changed().expect("incremental refresh");
        println!(
            "lookup/large: {} s after the load a pass read {} rows; the pass after it read {} rows, changed {}, in {:.1} ms",
            otrs_core::customers::CHANGE_TIME_SLACK_SECS + 1,
            again.rows,
            settled.rows,
            settled.changed,
            settled.elapsed.as_secs_f64() * 1e3
        );
        out.put("refresh_large_settled_rows", settled.rows.to_string());
        out.put("refresh_large_settled_ms", format!("{:.1}", settled.elapsed.as_secs_f64() * 1e3));
    }
    // One customer changed (after the settling pass above, as it would come
    // between two of the refresher's passes): applied in place.
    {
        use mysql::prelude::Queryable;
        let mut conn = mysql::Conn::new(settings(&db, &large_db).opts()).expect("connect to the large database");
        conn.query_drop(
            "UPDATE customer_user SET mobile = '+79990000001', change_time = NOW() + INTERVAL 1 SECOND WHERE login = 'bulk000001'",
        )
        .expect("update one customer");
        let rss0 = rss_kib();
        let one = large.refresh_changed().expect("incremental refresh");
        let rss1 = rss_kib();
        let steady = large.refresh_changed().expect("incremental refresh");
        println!(
            "lookup/large: one changed customer: refresh read {} rows, changed {}, {:.1} ms (RSS +{:.1} MiB); next pass read {} rows, changed {}, in {:.1} ms",
            one.rows,
            one.changed,
            one.elapsed.as_secs_f64() * 1e3,
            rss1.saturating_sub(rss0) as f64 / 1024.0,
            steady.rows,
            steady.changed,
            steady.elapsed.as_secs_f64() * 1e3
        );
        out.put("refresh_large_one_changed_ms", format!("{:.1}", one.elapsed.as_secs_f64() * 1e3));
        out.put("refresh_large_one_changed_rows", one.rows.to_string());
        out.put("refresh_large_one_changed_rss_mib", format!("{:.1}", rss1.saturating_sub(rss0) as f64 / 1024.0));
        out.put("refresh_large_steady_rows", steady.rows.to_string());
        out.put("refresh_large_steady_ms", format!("{:.1}", steady.elapsed.as_secs_f64() * 1e3));
        // 10 000 customers edited at once (a bulk edit): the longest lookup
        // while the pass applies them.
        conn.query_drop(
            "UPDATE customer_user SET first_name = 'Edited', change_time = NOW() + INTERVAL 2 SECOND \
             WHERE login BETWEEN 'bulk000001' AND 'bulk010000'",
        )
        .expect("edit 10 000 customers");
        let mut edit = None;
        let (max_us, slow, edit_ms) = lookups_during(&large, &large_inputs_for_edit(&large), || {
            edit = Some(large.refresh_changed().expect("incremental refresh"));
        });
        let edit = edit.expect("pass ran");
        println!(
            "lookup/large: 10 000 customers edited: the pass read {} rows, changed {}, in {edit_ms:.0} ms (write lock held {:.0} µs at most); the longest lookup meanwhile took {max_us:.0} µs; {slow} lookups over 1 ms",
            edit.rows,
            edit.changed,
            edit.longest_hold.as_secs_f64() * 1e6
        );
        out.put("refresh_large_edit_hold_us", format!("{:.0}", edit.longest_hold.as_secs_f64() * 1e6));
        out.put("refresh_large_edit_changed", edit.changed.to_string());
        out.put("refresh_large_edit_ms", format!("{edit_ms:.0}"));
        out.put("refresh_large_edit_max_lookup_us", format!("{max_us:.0}"));
        conn.query_drop(
            "UPDATE customer_user AS a JOIN customer_user AS b ON b.login = 'bulk050000' \
             SET a.first_name = 'Bulk', a.change_time = b.change_time WHERE a.login BETWEEN 'bulk000001' AND 'bulk010000'",
        )
        .expect("restore the edited customers");
        // Back as tests/sql/bulk-customers.sh wrote it (same change_time as
        // its neighbours), for the Asterisk part of scripts/bench.sh.
        conn.query_drop(
            "UPDATE customer_user AS a JOIN customer_user AS b ON b.login = 'bulk000002' \
             SET a.mobile = NULL, a.change_time = b.change_time WHERE a.login = 'bulk000001'",
        )
        .expect("restore the changed customer");
    }
    let bulk = large.status().customers.saturating_sub(small.status().customers).max(1) as u64;
    let small_inputs = callers(&|rng| SAMPLE_NUMBERS[rng.below(SAMPLE_NUMBERS.len() as u64) as usize].to_string(), 10_000, 1);
    let large_inputs = callers(&|rng| bulk_number(rng, bulk), 10_000, 1);
    // The large index, but callers from only 7 of its numbers (as many as
    // the small one has): separates the index's size from the callers'
    // working set (which decides what stays in the CPU caches).
    let few: Vec<String> = {
        let mut rng = Lcg(99);
        (0..SAMPLE_NUMBERS.len()).map(|_| bulk_number(&mut rng, bulk)).collect()
    };
    let large_few_inputs = callers(&|rng| few[rng.below(few.len() as u64) as usize].clone(), 10_000, 1);

    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    for (label, index, inputs) in [("small", &small, &small_inputs), ("large", &large, &large_inputs)] {
        let n = index.status().customers;
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("customers", n), |b| {
            b.iter(|| {
                i = (i + 1) % inputs.len();
                index.lookup(black_box(&inputs[i])).expect("loaded")
            })
        });
        let _ = label;
    }
    g.finish();

    let (per_run, runs) = if quick() { (20_000, 2) } else { (200_000, 7) };
    let mut p99 = [0.0f64; 3];
    let cases = [("small", &small, &small_inputs), ("large", &large, &large_inputs), ("large_few", &large, &large_few_inputs)];
    for (k, (label, index, inputs)) in cases.into_iter().enumerate() {
        let n = index.status().customers;
        let tail = time_lookups(index, inputs, per_run, runs);
        p99[k] = median(&tail.p99);
        println!(
            "lookup tail, {n} customers ({label}): p50 {:.2} µs, p99 {:.2} µs (runs {} µs), p99.9 {:.2} µs; {runs} runs x {per_run} lookups, {:.0} % hits",
            median(&tail.p50),
            median(&tail.p99),
            spread(&tail.p99),
            median(&tail.p999),
            100.0 * tail.hits as f64 / tail.total.max(1) as f64
        );
        out.put(&format!("lookup_{label}_p50_us"), format!("{:.2}", median(&tail.p50)));
        out.put(&format!("lookup_{label}_p99_us"), format!("{:.2}", median(&tail.p99)));
        out.put(&format!("lookup_{label}_p99_spread_us"), spread(&tail.p99));
        out.put(&format!("lookup_{label}_p999_us"), format!("{:.2}", median(&tail.p999)));
        out.put(&format!("lookup_{label}_runs"), format!("{runs}x{per_run}"));
    }
    // A full reload (every full_refresh_interval, 600 s by default) while
    // calls look customers up: the longest single lookup during it.
    for (label, index, inputs) in [("small", &small, &small_inputs), ("large", &large, &large_inputs)] {
        let (max_us, slow, reload_ms) = lookups_during_reload(index, inputs);
        println!("lookup/{label}: during a full reload ({reload_ms:.0} ms) the longest lookup took {max_us:.0} µs; {slow} lookups over 1 ms");
        out.put(&format!("reload_{label}_ms"), format!("{reload_ms:.0}"));
        out.put(&format!("reload_{label}_max_lookup_us"), format!("{max_us:.0}"));
        out.put(&format!("reload_{label}_slow_lookups"), slow.to_string());
    }
    let ratio = p99[1] / p99[0];
    let ratio_few = p99[2] / p99[0];
    println!(
        "lookup tail: p99 at {} / p99 at {} = {ratio:.2} (callers from 7 numbers of the large index: {ratio_few:.2})",
        large.status().customers,
        small.status().customers
    );
    out.put("lookup_p99_ratio", format!("{ratio:.2}"));
    out.put("lookup_p99_ratio_few", format!("{ratio_few:.2}"));
}

// ------------------------------------------------------------------ main

/// key=value lines for scripts/bench.sh (OTRS_BENCH_OUT), else nothing.
struct Report {
    lines: Vec<String>,
}

impl Report {
    fn put(&mut self, key: &str, value: String) {
        self.lines.push(format!("{key}={value}"));
    }

    fn write(&self) {
        let Some(path) = std::env::var_os("OTRS_BENCH_OUT") else { return };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("OTRS_BENCH_OUT");
        for l in &self.lines {
            writeln!(f, "{l}").expect("write OTRS_BENCH_OUT");
        }
    }
}

fn main() {
    let mut c = Criterion::default();
    c = if quick() {
        c.warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_millis(200)).sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50)
    };
    let mut c = c.configure_from_args();
    // `cargo test --benches` runs each benchmark once: the tail measurements
    // are skipped there too.
    let test_mode = std::env::args().any(|a| a == "--test");
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |group: &str| filter.as_deref().is_none_or(|f| group.contains(f) || f.contains(group));
    let mut report = Report { lines: Vec::new() };
    if wanted("number") {
        bench_number(&mut c);
    }
    if wanted("soap") {
        bench_soap(&mut c);
    }
    if wanted("flow") {
        bench_flow(&mut c);
    }
    if wanted("client") {
        bench_client(&mut c, &mut report);
    }
    if wanted("lookup") && !test_mode {
        bench_lookup(&mut c, &mut report);
    }
    c.final_summary();
    report.write();
}
