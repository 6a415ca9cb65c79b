//! otrs-standin: a stand-in for Znuny 6.5's GenericInterface SOAP ticket
//! connector (GenericTicketConnectorSOAP), answering byte for byte as the
//! recordings in tests/fixtures/otrs/generic-interface do, with switchable
//! fault modes and a control endpoint for tests.
//!
//!   otrs-standin --listen 127.0.0.1:8089 [--db mysql://u:p@127.0.0.1:3307/otrs
//!                | --customers login[:customer_id[:email[:First Last]]],...]
//!                [--user soapagent] [--password SoapAgent2024]
//!                [--webservice GenericTicketConnectorSOAP] [--mode M]
//!                [--record FILE] [--queues Raw,Postmaster,Misc,Helpdesk]
//!                [--delay-ms N] [--wrong-ws-delay-ms 5000]
//!                [--control ADDR] [--agent-name "First Last"]
//!                [--otrs-version 5|6] [--rpc-user rpcuser] [--rpc-password RpcPass2024]
//!                [--flavour znuny|otobo] [--rest-webservice GenericTicketConnectorREST]
//!
//! Besides the GenericInterface it serves the legacy rpc.pl (POST
//! {prefix}/rpc.pl, samples in tests/fixtures/otrs/rpc) against the same tickets;
//! `--otrs-version 5` keeps TicketObject->ArticleCreate there, which OTRS 6
//! and Znuny no longer have. `--rpc-user`/`--rpc-password` are OTRS's
//! SOAP::User/SOAP::Password (empty: rpc.pl refuses everyone).
//!
//! Modes: normal error fault garbage truncated huge hang refuse close
//! slow:N (ms) down_for:T (s). SIGUSR1 switches back to normal.

mod db;
mod http;
mod ops;
mod rest;
mod rpc;
mod rpc_config;
mod soap;
mod store;

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Error,
    Fault,
    Garbage,
    Truncated,
    Huge,
    Hang,
    Refuse,
    Close,
    Slow(u64),
    /// refuse for this many seconds, then normal
    DownFor(f64),
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        let s = s.trim();
        let (name, arg) = match s.split_once(':') {
            Some((a, b)) => (a.trim(), Some(b.trim())),
            None => (s, None),
        };
        let m = match (name.to_lowercase().as_str(), arg) {
            ("normal", None) => Mode::Normal,
            ("error", None) => Mode::Error,
            ("fault", None) => Mode::Fault,
            ("garbage", None) => Mode::Garbage,
            ("truncated", None) => Mode::Truncated,
            ("huge", None) => Mode::Huge,
            ("hang", None) => Mode::Hang,
            ("refuse", None) => Mode::Refuse,
            ("close", None) => Mode::Close,
            ("slow", Some(n)) => Mode::Slow(n.parse().map_err(|_| format!("bad delay in mode '{}'", s))?),
            ("down_for", Some(n)) => {
                let v: f64 = n.parse().map_err(|_| format!("bad duration in mode '{}'", s))?;
                if !(0.0..1e9).contains(&v) {
                    return Err(format!("bad duration in mode '{}'", s));
                }
                Mode::DownFor(v)
            }
            _ => {
                return Err(format!(
                "unknown mode '{}' (normal, error, fault, garbage, truncated, huge, hang, refuse, close, slow:MS, down_for:S)",
                s
            ))
            }
        };
        Ok(m)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Mode::Normal => write!(f, "normal"),
            Mode::Error => write!(f, "error"),
            Mode::Fault => write!(f, "fault"),
            Mode::Garbage => write!(f, "garbage"),
            Mode::Truncated => write!(f, "truncated"),
            Mode::Huge => write!(f, "huge"),
            Mode::Hang => write!(f, "hang"),
            Mode::Refuse => write!(f, "refuse"),
            Mode::Close => write!(f, "close"),
            Mode::Slow(n) => write!(f, "slow:{}", n),
            Mode::DownFor(t) => write!(f, "down_for:{}", t),
        }
    }
}

pub struct Config {
    pub listen: String,
    pub control_listen: Option<String>,
    pub user: String,
    pub password: String,
    pub webservice: String,
    pub agent_name: String,
    pub queues: Vec<(String, u32)>,
    pub delay_ms: u64,
    /// Apache's KeepAliveTimeout: how long Znuny's silence to a wrong web
    /// service name holds the connection (not with `Connection: close`)
    pub wrong_ws_delay_ms: u64,
    /// 5: rpc.pl's TicketObject has ArticleCreate; 6 (OTRS 6, Znuny): not
    pub otrs_version: u8,
    /// rpc.pl's SOAP::User and SOAP::Password
    pub rpc_user: String,
    pub rpc_password: String,
    /// Agent logins besides the SOAP agent (--agents a,b): UserIDs 3, 4, ...
    pub agents: Vec<String>,
    /// Files bigger than this fail after their article was made (rest/32c).
    pub max_file_bytes: usize,
    /// Ticket dynamic fields configured in this OTRS (--dynamic-fields
    /// CallID,Other): TicketCreate sets them, TicketSearch finds them.
    pub dynamic_fields: Vec<String>,
    /// `otobo`: answers as OTOBO 10.1/11.0 (its namespace, no rpc.pl); else Znuny.
    pub otobo: bool,
    /// Name of the REST web service served beside the SOAP one.
    pub rest_webservice: String,
}

struct ModeState {
    mode: Mode,
    gen: u64,
    down_until: Option<Instant>,
}

pub struct Shared {
    pub cfg: Config,
    pub store: Mutex<store::Store>,
    pub customers: db::Customers,
    mode: Mutex<ModeState>,
    record: Option<Mutex<File>>,
    /// a fixed clock (unix ms) for the unit tests
    pub fixed_now_ms: Mutex<Option<i64>>,
    /// SOAP::Lite's process-wide gensym counter (rpc.pl element names)
    pub rpc_gensym: AtomicU64,
}

impl Shared {
    pub fn new(cfg: Config, customers: db::Customers, mode: Mode, record: Option<File>) -> Shared {
        let s = Shared {
            cfg,
            store: Mutex::new(store::Store::default()),
            customers,
            mode: Mutex::new(ModeState { mode: Mode::Normal, gen: 0, down_until: None }),
            record: record.map(Mutex::new),
            fixed_now_ms: Mutex::new(None),
            rpc_gensym: AtomicU64::new(0),
        };
        s.set_mode(mode);
        s
    }

    pub fn now_ms(&self) -> i64 {
        if let Some(t) = *lock(&self.fixed_now_ms) {
            return t;
        }
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    pub fn set_mode(&self, m: Mode) {
        let mut g = lock(&self.mode);
        g.down_until = match m {
            Mode::DownFor(t) => Some(Instant::now() + Duration::from_secs_f64(t)),
            _ => None,
        };
        g.mode = m;
        g.gen += 1;
    }

    /// The mode in force and its generation (changes on every switch).
    pub fn mode(&self) -> (Mode, u64) {
        let mut g = lock(&self.mode);
        if let (Mode::DownFor(_), Some(u)) = (&g.mode, g.down_until) {
            if Instant::now() >= u {
                g.mode = Mode::Normal;
                g.down_until = None;
                g.gen += 1;
                eprintln!("down_for elapsed: mode normal");
            }
        }
        (g.mode.clone(), g.gen)
    }

    pub fn refusing(&self) -> bool {
        matches!(self.mode().0, Mode::Refuse | Mode::DownFor(_))
    }

    /// --record: append a ticket line.
    pub fn record(&self, line: &str) {
        if let Some(f) = &self.record {
            let mut f = lock(f);
            let _ = writeln!(f, "{}", line);
            let _ = f.flush();
        }
    }
}

static SIGUSR1_SEEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr1(_: libc::c_int) {
    SIGUSR1_SEEN.store(true, Ordering::SeqCst);
}

fn usage() -> ! {
    eprintln!(
        "usage: otrs-standin --listen ADDR [--db mysql://USER:PASS@HOST:PORT/DB | --customers LIST]\n\
         \x20      [--user LOGIN] [--password PW] [--webservice NAME] [--mode MODE] [--record FILE] [--dynamic-fields A,B]\n\
         \x20      [--queues A,B,...] [--delay-ms N] [--wrong-ws-delay-ms N] [--control ADDR]\n\
         \x20      [--agent-name \"First Last\"] [--otrs-version 5|6] [--rpc-user U] [--rpc-password P] [--agents login,...] [--max-file-bytes N]\n\
         \x20      [--flavour znuny|otobo] [--rest-webservice GenericTicketConnectorREST]\n\
         modes: normal error fault garbage truncated huge hang refuse close slow:MS down_for:SECONDS"
    );
    std::process::exit(2)
}

fn spawn_conn(stream: TcpStream, shared: &Arc<Shared>, control_only: bool) {
    let sh = Arc::clone(shared);
    let r = std::thread::Builder::new().stack_size(4 * 1024 * 1024).spawn(move || {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            http::handle_connection(stream, sh, control_only);
        }));
    });
    if let Err(e) = r {
        eprintln!("could not start a connection thread: {}", e);
    }
}

fn wait_readable(l: &TcpListener, ms: i32) -> bool {
    let mut p = libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    r > 0
}

fn accept_all(l: &TcpListener, shared: &Arc<Shared>, control_only: bool) {
    loop {
        match l.accept() {
            Ok((s, _)) => spawn_conn(s, shared, control_only),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("accept: {}", e);
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        }
    }
}

fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let l = TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:8089".to_string();
    let mut control_listen = None;
    let mut exit_on_stdin_eof = false;
    let mut db_url: Option<String> = None;
    let mut customers: Option<String> = None;
    let mut user = "soapagent".to_string();
    let mut password = "SoapAgent2024".to_string();
    let mut webservice = "GenericTicketConnectorSOAP".to_string();
    let mut mode = Mode::Normal;
    let mut record: Option<String> = None;
    let mut queues = "Raw,Postmaster,Misc,Helpdesk".to_string();
    let mut delay_ms = 0u64;
    let mut wrong_ws_delay_ms = 5000u64;
    let mut agent_name = "SOAP Agent".to_string();
    let mut otrs_version = 6u8;
    let mut rpc_user = "rpcuser".to_string();
    let mut rpc_password = "RpcPass2024".to_string();
    let mut agents: Vec<String> = Vec::new();
    let mut max_file_bytes = ops::MAX_STORED_FILE;
    let mut otobo = false;
    let mut rest_webservice = "GenericTicketConnectorREST".to_string();
    let mut dynamic_fields: Vec<String> = Vec::new();
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            usage();
        }
        let mut val = || inline.clone().or_else(|| args.next()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--listen" => listen = val(),
            "--control" => control_listen = Some(val()),
            // tests: end together with the test process that holds our stdin
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            "--db" => db_url = Some(val()),
            "--customers" => customers = Some(val()),
            "--user" => user = val(),
            "--password" => password = val(),
            "--webservice" => webservice = val(),
            "--mode" => {
                mode = Mode::parse(&val()).unwrap_or_else(|e| {
                    eprintln!("{}", e);
                    std::process::exit(2)
                })
            }
            "--record" => record = Some(val()),
            "--queues" => queues = val(),
            "--delay-ms" => delay_ms = val().parse().unwrap_or_else(|_| usage()),
            "--wrong-ws-delay-ms" => wrong_ws_delay_ms = val().parse().unwrap_or_else(|_| usage()),
            "--agent-name" => agent_name = val(),
            "--otrs-version" => {
                otrs_version = match val().trim() {
                    "5" => 5,
                    "6" => 6,
                    other => {
                        eprintln!("--otrs-version must be 5 or 6, not '{}'", other);
                        std::process::exit(2)
                    }
                }
            }
            "--rpc-user" => rpc_user = val(),
            "--rpc-password" => rpc_password = val(),
            "--flavour" => {
                otobo = match val().as_str() {
                    "otobo" => true,
                    "znuny" => false,
                    other => {
                        eprintln!("--flavour must be znuny or otobo, not '{}'", other);
                        std::process::exit(2)
                    }
                }
            }
            "--rest-webservice" => rest_webservice = val(),
            "--max-file-bytes" => max_file_bytes = val().parse().unwrap_or_else(|_| usage()),
            "--dynamic-fields" => {
                dynamic_fields = val().split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()
            }
            "--agents" => agents = val().split(',').map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
            _ => {
                eprintln!("unknown argument: {}", a);
                usage()
            }
        }
    }
    let queue_names: Vec<String> = queues.split(',').map(|q| q.trim().to_string()).filter(|q| !q.is_empty()).collect();
    let customers = match (db_url, customers) {
        (Some(u), _) => db::Customers::from_db(&u),
        (None, Some(l)) => db::Customers::from_list(&l),
        (None, None) => db::Customers::from_list(""),
    };
    let record_file = record.map(|p| {
        std::fs::OpenOptions::new().create(true).append(true).open(&p).unwrap_or_else(|e| {
            eprintln!("cannot open --record {}: {}", p, e);
            std::process::exit(2)
        })
    });
    let cfg = Config {
        listen: listen.clone(),
        control_listen: control_listen.clone(),
        user,
        password,
        webservice,
        agent_name,
        queues: store::queue_table(&queue_names),
        delay_ms,
        wrong_ws_delay_ms,
        otrs_version,
        rpc_user,
        rpc_password,
        agents,
        max_file_bytes,
        dynamic_fields,
        otobo,
        rest_webservice,
    };
    let shared = Arc::new(Shared::new(cfg, customers, mode, record_file));

    unsafe {
        libc::signal(libc::SIGUSR1, on_sigusr1 as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }

    let first = match bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {}", listen, e);
            std::process::exit(1)
        }
    };
    // with port 0 the kernel picks one; keep it for re-binding after refuse
    let addr = first.local_addr().map(|a| a.to_string()).unwrap_or(listen);

    if let Some(c) = &shared.cfg.control_listen {
        let cl = match bind(c) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cannot listen on {} (control): {}", c, e);
                std::process::exit(1)
            }
        };
        let sh = Arc::clone(&shared);
        std::thread::spawn(move || loop {
            if wait_readable(&cl, 200) {
                accept_all(&cl, &sh, true);
            }
        });
        eprintln!("control on {}", c);
    }
    if exit_on_stdin_eof {
        std::thread::spawn(|| {
            use std::io::Read;
            let mut buf = [0u8; 64];
            loop {
                match std::io::stdin().read(&mut buf) {
                    Ok(0) | Err(_) => std::process::exit(0),
                    Ok(_) => {}
                }
            }
        });
    }
    println!("listening on {}", addr);
    let _ = std::io::stdout().flush();

    let mut listener = Some(first);
    loop {
        if SIGUSR1_SEEN.swap(false, Ordering::SeqCst) {
            shared.set_mode(Mode::Normal);
            eprintln!("SIGUSR1: mode normal");
        }
        if shared.refusing() {
            if listener.take().is_some() {
                eprintln!("mode {}: listener closed", shared.mode().0);
            }
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match bind(&addr) {
                Ok(l) => {
                    eprintln!("listener reopened on {}", addr);
                    listener = Some(l);
                    listener.as_ref().unwrap()
                }
                Err(e) => {
                    eprintln!("re-bind {}: {}", addr, e);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        if wait_readable(l, 50) {
            accept_all(l, &shared, false);
        }
    }
}

#[cfg(test)]
mod tests;
