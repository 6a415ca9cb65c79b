//! Test fixtures that start the real things: the project's Asterisk (22, or 16 with OTRS_SANDBOX_SERIES=16)
//! sandbox with the freshly built module, the OTRS stand-in, and the
//! private MariaDB (started by scripts/test.sh, or here if it is not up).
//! Tests share one Asterisk and one stand-in and take turns (`lock()`).
//! They need root, MariaDB and the sandbox, so each is `#[ignore]`d in a
//! plain `cargo test`; scripts/test.sh runs them (`--include-ignored`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub const OTRS_USER: &str = "soapagent";
pub const OTRS_PASSWORD: &str = "SoapAgent2024";

pub fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sandbox_root() -> PathBuf {
    PathBuf::from(std::env::var("OTRS_SANDBOX").unwrap_or_else(|_| "/var/lib/app_otrsticket/sandbox".into()))
}

/// The private MariaDB of scripts/mariadb.sh (OTRS_DB_PORT, default 3307).
pub fn db_port() -> String {
    std::env::var("OTRS_DB_PORT").unwrap_or_else(|_| "3307".into())
}

pub fn db_url() -> String {
    std::env::var("OTRS_TEST_DB").unwrap_or_else(|_| format!("mysql://otrs:otrs-test-pw@127.0.0.1:{}/otrs", db_port()))
}

/// Runs a project script; panics with its output when it fails.
pub fn script(name: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(top().join("scripts").join(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{name}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scripts/{name} {args:?} failed:\n{text}");
    text
}

/// `asterisk -rx CMD` in the sandbox; the command's output.
pub fn cli(cmd: &str) -> String {
    let out = Command::new("bash")
        .arg(top().join("scripts/sandbox.sh"))
        .arg("cli")
        .arg(cmd)
        .output()
        .expect("run scripts/sandbox.sh cli");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The module the tests load: the cdylib cargo built for this test run, or
/// `$OTRS_TEST_MODULE` (scripts/test.sh: the module built against another
/// Asterisk's headers, for that Asterisk's sandbox).
pub fn module_path() -> PathBuf {
    const SOURCES: &[&str] = &["src", "otrs-core/src", "include"];
    let so = match std::env::var_os("OTRS_TEST_MODULE") {
        Some(p) => fresh(PathBuf::from(p), SOURCES),
        None => built("libapp_otrsticket.so", SOURCES),
    };
    // Without Asterisk's headers build.rs makes an inert stub (see there).
    let bytes = std::fs::read(&so).expect("read the module");
    assert!(
        !bytes.windows(STUB_MARK.len()).any(|w| w == STUB_MARK),
        "{} is the stub built without Asterisk's headers: set ASTERISK_INCLUDE_DIR or run scripts/test.sh",
        so.display()
    );
    so
}

/// Marker that build.rs's stub module carries (src/lib.rs).
const STUB_MARK: &[u8] = b"app_otrsticket_built_without_asterisk_headers";

/// The OTRS stand-in program (crate otrs-standin), built by `cargo build`.
pub fn standin_path() -> PathBuf {
    built("otrs-standin", &["otrs-standin/src"])
}

/// `name` in the target folder of this test run, not older than `sources`:
/// `cargo test` neither relinks the cdylib nor builds another crate's
/// program, so never test a stale one.
fn built(name: &str, sources: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    fresh(dir.join(name), sources)
}

/// `file`, checked to exist and to be newer than every file in `sources`.
fn fresh(file: PathBuf, sources: &[&str]) -> PathBuf {
    assert!(file.is_file(), "{} not built: run cargo build first (scripts/test.sh does)", file.display());
    let built = std::fs::metadata(&file).and_then(|m| m.modified()).expect("mtime");
    for src in sources {
        if let Some(newer) = newest_file(&top().join(src)).filter(|(t, _)| *t > built) {
            panic!("{} is older than {}: run cargo build first (scripts/test.sh does)", file.display(), newer.1.display());
        }
    }
    file
}

fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate =
            if path.is_dir() { newest_file(&path) } else { entry.metadata().and_then(|m| m.modified()).ok().map(|t| (t, path)) };
        if let Some(c) = candidate {
            if newest.as_ref().is_none_or(|n| c.0 > n.0) {
                newest = Some(c);
            }
        }
    }
    newest
}

// ---------------------------------------------------------------- stand-in

pub struct StandIn {
    child: Child,
    /// Held open: the stand-in exits when it closes, i.e. with this test
    /// process (the shared one is in a static and never dropped).
    _stdin: Option<std::process::ChildStdin>,
    pub addr: String,
    /// The control endpoint has its own port: it must answer while the
    /// SOAP port refuses connections.
    pub control_addr: String,
}

/// The four ways a helpdesk's OTRS is reached (issue 11): the same
/// integration tests run in each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    ZnunySoap,
    ZnunyRest,
    OtoboSoap,
    OtoboRest,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::ZnunySoap, Protocol::ZnunyRest, Protocol::OtoboSoap, Protocol::OtoboRest];

    pub fn otobo(self) -> bool {
        matches!(self, Protocol::OtoboSoap | Protocol::OtoboRest)
    }

    /// The `[general]` lines this protocol needs (SOAP's namespace: auto).
    pub fn general(self) -> &'static str {
        match self {
            Protocol::ZnunyRest | Protocol::OtoboRest => "api = rest",
            Protocol::ZnunySoap | Protocol::OtoboSoap => "",
        }
    }
}

/// A stand-in answering as OTOBO (`--flavour otobo`), started once and
/// shared like the world's Znuny one.
pub fn otobo_standin() -> &'static StandIn {
    static OTOBO: OnceLock<StandIn> = OnceLock::new();
    OTOBO.get_or_init(|| StandIn::start(&["--flavour", "otobo"]))
}

/// The stand-in that serves `protocol`.
pub fn standin_for(w: &World, protocol: Protocol) -> &StandIn {
    if protocol.otobo() {
        otobo_standin()
    } else {
        &w.standin
    }
}

/// Waits until `standin` holds `n` tickets; returns them.
pub fn wait_tickets_of(standin: &StandIn, n: usize, within: Duration) -> Vec<BTreeMap<String, String>> {
    let until = Instant::now() + within;
    loop {
        let t = standin.tickets();
        if t.len() >= n || Instant::now() >= until {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl StandIn {
    pub fn start(extra: &[&str]) -> StandIn {
        let control_addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(standin_path())
            .args(["--listen", "127.0.0.1:0", "--db", &db_url(), "--user", OTRS_USER, "--password", OTRS_PASSWORD])
            .args(["--control", &control_addr, "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start otrs-standin");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read stand-in banner");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected stand-in banner: {line:?}"))
            .to_string();
        let stdin = child.stdin.take();
        StandIn { child, _stdin: stdin, addr, control_addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP", self.addr)
    }

    /// The URL of `protocol`'s web service on this stand-in.
    pub fn url_for(&self, protocol: Protocol) -> String {
        let (base, ws) = match protocol {
            Protocol::ZnunySoap => ("otrs", "GenericTicketConnectorSOAP"),
            Protocol::ZnunyRest => ("otrs", "GenericTicketConnectorREST"),
            Protocol::OtoboSoap => ("otobo", "GenericTicketConnectorSOAP"),
            Protocol::OtoboRest => ("otobo", "GenericTicketConnectorREST"),
        };
        format!("http://{}/{base}/nph-genericinterface.pl/Webservice/{ws}", self.addr)
    }

    fn control(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(&self.control_addr).expect("connect to the stand-in's control port");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.control_addr,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send control request");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read control reply");
        let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
        assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "control {path}: {head}");
        body.to_string()
    }

    pub fn control_raw(&self, method: &str, path: &str) -> String {
        self.control(method, path, "")
    }

    pub fn set_mode(&self, mode: &str) {
        self.control("POST", "/control/mode", mode);
    }

    pub fn reset(&self) {
        self.set_mode("normal");
        self.control("POST", "/control/reset", "");
    }

    /// Makes ticket `id` look created `minutes` earlier (TicketSearch's
    /// TicketCreateTime*Minutes then see it so).
    pub fn age_ticket(&self, id: &str, minutes: u32) {
        let out = self.control("POST", "/control/age", &format!("ticket={id} minutes={minutes}"));
        assert!(out.contains("min earlier"), "aging ticket {id}: {out}");
    }

    /// Requests per operation, as the stand-in counted them.
    pub fn requests(&self) -> String {
        self.control("GET", "/control/requests", "")
    }

    /// Tickets the stand-in created, oldest first.
    pub fn tickets(&self) -> Vec<BTreeMap<String, String>> {
        self.control("GET", "/control/tickets", "")
            .lines()
            .filter(|l| l.contains("ticket_number="))
            .filter(|l| !l.starts_with("article"))
            .map(parse_record)
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

pub fn parse_record(line: &str) -> BTreeMap<String, String> {
    line.split('\t').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), unescape(v))).collect()
}

// ---------------------------------------------------------------- Asterisk

/// The shared world of one test binary: MariaDB up, one stand-in, one
/// Asterisk with the module loaded.
pub struct World {
    pub standin: StandIn,
}

static WORLD: OnceLock<Mutex<World>> = OnceLock::new();

pub const TEST_DIR_IN_CHROOT: &str = "/tmp/otrs-test";

/// Where the dialplan writes results; Asterisk runs as its own user there.
pub fn test_dir() -> PathBuf {
    let dir = sandbox_root().join("tmp/otrs-test");
    if !dir.is_dir() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).expect("test dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).expect("chmod test dir");
    }
    dir
}

/// The dialplan the tests call into. A test call runs exten <id> in
/// [test-call], which takes its caller ID from a file the test wrote (any
/// bytes, no CLI quoting), then goes to 4509 in [otrs] as a real call would.
pub const EXTENSIONS: &str = r#"
[general]
static = yes
writeprotect = yes

[test-call]
exten => _X.,1,Set(__TESTID=${EXTEN})
 same => n,Set(CALLERID(num)=${FILE(/tmp/otrs-test/cid-${EXTEN})})
 same => n,Goto(otrs,4509,1)

; the same, into other numbers of [otrs]: Local/<id>@test-call-<exten>
[test-call-4510]
exten => _X.,1,Set(__TESTID=${EXTEN})
 same => n,Set(CALLERID(num)=${FILE(/tmp/otrs-test/cid-${EXTEN})})
 same => n,Set(CALLERID(name)=Original Name)
 same => n,Goto(otrs,4510,1)

[test-call-4512]
exten => _X.,1,Set(__TESTID=${EXTEN})
 same => n,Set(CALLERID(num)=${FILE(/tmp/otrs-test/cid-${EXTEN})})
 same => n,Goto(otrs,4512,1)

[test-call-4511]
exten => _X.,1,Set(__TESTID=${EXTEN})
 same => n,Set(CALLERID(num)=${FILE(/tmp/otrs-test/cid-${EXTEN})})
 same => n,Goto(otrs,4511,1)

[otrs]
exten => 4509,1,OTRSTicket(${CALLERID(num)})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=STATUS=${OTRSSTATUS})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=ERROR=${OTRSERROR})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETID=${OTRSTICKETID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETNUMBER=${OTRSTICKETNUMBER})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=ARTICLEID=${OTRSARTICLEID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=CUSTOMERUSER=${OTRSCUSTOMERUSER})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=CUSTOMERID=${OTRSCUSTOMERID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=MATCHES=${OTRSMATCHES})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=UNIQUEID=${UNIQUEID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=DONE=1)
 same => n,Dial(Local/op@operator,5)
 same => n,Hangup()

; handoff: variables inherited by the operator's channel (option i), the
; caller name it shows (option n)
exten => 4510,1,OTRSTicket(${CALLERID(num)},,in)
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=STATUS=${OTRSSTATUS})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETNUMBER=${OTRSTICKETNUMBER})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETURL=${OTRSTICKETURL})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=DONE=1)
 same => n,Dial(Local/handoff@operator,5)
 same => n,Hangup()

; repeat calls: profile [repeat] has a repeat_window
exten => 4511,1,OTRSTicket(${CALLERID(num)},repeat)
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=STATUS=${OTRSSTATUS})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=ERROR=${OTRSERROR})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETID=${OTRSTICKETID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETNUMBER=${OTRSTICKETNUMBER})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=ARTICLEID=${OTRSARTICLEID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=CUSTOMERUSER=${OTRSCUSTOMERUSER})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=DONE=1)
 same => n,Hangup()

; call outcome: a hangup handler runs OTRSCallEnd(); the operator answers
; or not as the test wrote into /tmp/otrs-test/op-<id>
exten => 4512,1,OTRSTicket(${CALLERID(num)},outcome)
 same => n,Set(CHANNEL(hangup_handler_push)=otrs-end,s,1)
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=STATUS=${OTRSSTATUS})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=TICKETID=${OTRSTICKETID})
 same => n,Set(FILE(/tmp/otrs-test/result-${TESTID},,,al,u)=DONE=1)
 same => n,Dial(Local/${FILE(/tmp/otrs-test/op-${TESTID})}@operator,2)
 same => n,Hangup()

[otrs-end]
exten => s,1,OTRSCallEnd()
 same => n,Set(FILE(/tmp/otrs-test/end-${TESTID},,,al,u)=ENDSTATUS=${OTRSENDSTATUS})
 same => n,Return()

[operator]
exten => answer,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
exten => noanswer,1,Wait(10)
 same => n,Hangup()
exten => handoff,1,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=TICKETNUMBER=${OTRSTICKETNUMBER})
 same => n,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=TICKETID=${OTRSTICKETID})
 same => n,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=CUSTOMERUSER=${OTRSCUSTOMERUSER})
 same => n,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=CALLERNAME=${CALLERID(name)})
 same => n,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=reached)
 same => n,Answer()
 same => n,Hangup()

exten => op,1,Set(FILE(/tmp/otrs-test/operator-${TESTID},,,al,u)=reached)
 same => n,Answer()
 same => n,Hangup()
"#;

pub const AMI_USER: &str = "otrstest";
pub const AMI_SECRET: &str = "ami-test-secret";

/// The AMI port of this test world (OTRS_AMI_PORT, default 5039).
pub fn ami_port() -> String {
    std::env::var("OTRS_AMI_PORT").unwrap_or_else(|_| "5039".into())
}

fn manager_conf() -> String {
    format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = {}\n\n[{AMI_USER}]\nsecret = {AMI_SECRET}\nread = call,system,dialplan\nwrite = system\n",
        ami_port()
    )
}

/// An otrs.conf for the tests; `general_extra` and `default_extra` add lines.
pub fn otrs_conf(url: &str, general_extra: &str, default_extra: &str) -> String {
    format!(
        "[general]\nurl = {url}\nuser = {OTRS_USER}\npassword = {OTRS_PASSWORD}\ntimeout = 3000\n\
         dbhost = 127.0.0.1\ndbport = {port}\ndbname = otrs\ndbuser = otrs\ndbpass = otrs-test-pw\n\
         country_code = 7\nnational_prefix = 8\ninternational_prefix = 00,810\n\
         unknown_customer = unknown\nrefresh_interval = 2\nretry_interval = 1\nmax_retry_interval = 2\nrecheck_delay = 3\n\
         agent_url = http://helpdesk.example/otrs/index.pl?Action=AgentTicketZoom\\;TicketID=${{ticket_id}}\n{general_extra}\n\
         [default]\nqueue = Raw\nstate = new\npriority = 3 normal\n\
         title = Call from ${{caller_name}} (${{caller}})\n\
         subject = Phone call from ${{caller}}\n\
         body = Caller ${{caller}}\\nCustomer ${{customer_name}} (${{customer_user}}, ${{customer_id}})\\nCall ${{uniqueid}} to ${{exten}}\n\
         {default_extra}\n\
         [repeat]\nqueue = Raw\nrepeat_window = 10\n\
         [outcome]\nqueue = Raw\nmissed_state = open\nmissed_priority = 4 high\ntime_units = yes\n",
        port = db_port()
    )
}

pub fn write_etc(name: &str, text: &str) {
    std::fs::write(sandbox_root().join("etc/asterisk").join(name), text).expect("write sandbox config");
}

fn start_world() -> World {
    script("mariadb.sh", &["start"]);
    script("sandbox.sh", &["build"]);
    let standin = StandIn::start(&[]);
    let _ = std::fs::remove_dir_all(test_dir());
    let _ = test_dir();
    // Clean start: stop a left-over Asterisk, then bring ours up with the
    // module just built.
    script("sandbox.sh", &["stop"]);
    script("sandbox.sh", &["install-module", module_path().to_str().expect("utf8 path")]);
    let conf = std::env::temp_dir().join(format!("otrs-test-conf-{}", std::process::id()));
    std::fs::create_dir_all(&conf).expect("conf dir");
    std::fs::write(conf.join("otrs.conf"), otrs_conf(&standin.url(), "", "")).expect("otrs.conf");
    std::fs::write(conf.join("extensions.conf"), EXTENSIONS).expect("extensions.conf");
    // AMI on loopback only, for the OTRSTicket event
    std::fs::write(conf.join("manager.conf"), manager_conf()).expect("manager.conf");
    let out = Command::new("bash")
        .arg(top().join("scripts/sandbox.sh"))
        .arg("start")
        .env("OTRS_SANDBOX_CONF_DIR", &conf)
        .output()
        .expect("start sandbox");
    assert!(
        out.status.success(),
        "sandbox start: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let world = World { standin };
    wait_customers_loaded();
    world
}

/// The shared world, locked for this test. A test that panicked while
/// holding it does not stop the others.
pub fn world() -> MutexGuard<'static, World> {
    let m = WORLD.get_or_init(|| Mutex::new(start_world()));
    let w = m.lock().unwrap_or_else(|p| p.into_inner());
    // What an earlier test left queued must not land among this test's
    // tickets: let the worker empty the spool first.
    w.standin.set_mode("normal");
    drain_spool();
    w.standin.reset();
    w
}

/// A line of `otrs show status` without its label.
pub fn status_line(status: &str, label: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix(label)).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The number after `label` in `otrs show status` (a test fails without it).
pub fn counter(status: &str, label: &str) -> u64 {
    status_line(status, label)
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in:\n{status}"))
}

/// Tickets waiting in the spool, from `otrs show status`.
pub fn spool_depth() -> usize {
    let s = cli("otrs show status");
    status_line(&s, "Spool:").split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

/// Waits until the spool is empty and OTRS is considered up.
pub fn drain_spool() {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let s = cli("otrs show status");
        if !s.contains("Spool:") {
            return; // module not loaded
        }
        let depth = status_line(&s, "Spool:");
        if depth.starts_with("0 queued") && status_line(&s, "OTRS:") == "up" {
            return;
        }
        assert!(Instant::now() < until, "spool did not drain:\n{s}");
        cli("otrs spool retry");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the stand-in holds `n` tickets; returns them.
pub fn wait_tickets(w: &World, n: usize, within: Duration) -> Vec<BTreeMap<String, String>> {
    let until = Instant::now() + within;
    loop {
        let t = w.standin.tickets();
        if t.len() >= n || Instant::now() >= until {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `otrs show status` reports the customer index loaded.
pub fn wait_customers_loaded() {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let s = cli("otrs show status");
        if s.contains("database up") {
            return;
        }
        assert!(Instant::now() < until, "customer index never loaded:\n{s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reconfigures the running module: writes otrs.conf and reloads it.
pub fn reconfigure(conf: &str) -> String {
    write_etc("otrs.conf", conf);
    // The config API skips a file whose mtime did not change; within one
    // second it may not have.
    let path = sandbox_root().join("etc/asterisk/otrs.conf");
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    let f = std::fs::File::options().write(true).open(&path).expect("open otrs.conf");
    f.set_modified(later).expect("touch otrs.conf");
    cli("module reload app_otrsticket.so")
}

static NEXT_CALL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

pub struct Call {
    pub id: String,
    pub started: Instant,
}

/// Places a call into [otrs] 4509 whose caller ID is exactly `caller`.
pub fn place_call(caller: &[u8]) -> Call {
    place_call_via("test-call", caller)
}

/// The same through another `[test-call-*]` context.
pub fn place_call_via(context: &str, caller: &[u8]) -> Call {
    place_call_via_with(context, caller, &[])
}

/// ... with extra files `<name>-<id>` the dialplan reads (e.g. "op").
pub fn place_call_via_with(context: &str, caller: &[u8], files: &[(&str, &str)]) -> Call {
    let n = NEXT_CALL.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = format!("{}{:04}", std::process::id() % 10000 + 1000, n);
    let dir = test_dir();
    std::fs::create_dir_all(&dir).expect("test dir");
    for prefix in ["result-", "operator-", "end-"] {
        let _ = std::fs::remove_file(dir.join(format!("{prefix}{id}")));
    }
    std::fs::write(dir.join(format!("cid-{id}")), caller).expect("write caller id");
    for (name, value) in files {
        std::fs::write(dir.join(format!("{name}-{id}")), value).expect("write call file");
    }
    let started = Instant::now();
    let out = cli(&format!("channel originate Local/{id}@{context} application Wait 1"));
    assert!(!out.contains("No such") && !out.contains("Unable"), "originate: {out}");
    Call { id, started }
}

#[derive(Debug)]
pub struct CallResult {
    pub vars: BTreeMap<String, String>,
    /// How long after the originate the dialplan passed OTRSTicket().
    pub elapsed: Duration,
}

impl CallResult {
    pub fn var(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Waits for the dialplan's result lines of `call`.
pub fn wait_result(call: &Call, within: Duration) -> CallResult {
    let path = test_dir().join(format!("result-{}", call.id));
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if text.contains("DONE=1") {
                let elapsed = call.started.elapsed();
                let vars = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
                return CallResult { vars, elapsed };
            }
        }
        assert!(
            call.started.elapsed() < within,
            "call {} did not get past OTRSTicket() within {within:?}\nlog:\n{}",
            call.id,
            script("sandbox.sh", &["log", "30"])
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn operator_reached(call: &Call) -> bool {
    operator_saw(call).is_some()
}

/// What the operator's channel wrote (KEY=VALUE lines), once it got there.
pub fn operator_saw(call: &Call) -> Option<BTreeMap<String, String>> {
    let path = test_dir().join(format!("operator-{}", call.id));
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if text.lines().any(|l| l == "reached") {
                return Some(
                    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                );
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The whole `full` log (invalid UTF-8 replaced).
pub fn full_log() -> String {
    log_since(0)
}

/// Whether Asterisk lists the module as running ("Not Running" after an
/// unload also contains the word).
pub fn module_running() -> bool {
    cli("module show like otrsticket")
        .lines()
        .any(|l| l.starts_with("app_otrsticket.so") && l.contains(" Running") && !l.contains("Not Running"))
}

// ------------------------------------------------- helpers of resilience.rs
// (added for tests/resilience.rs; nothing above depends on them)

/// The module's spool directory on the host: Asterisk's astspooldir
/// (/var/spool/asterisk in the chroot) + /otrs.
pub fn spool_dir() -> PathBuf {
    sandbox_root().join("var/spool/asterisk/otrs")
}

/// The config overlay start_world() wrote (otrs.conf, extensions.conf, ...).
pub fn conf_dir() -> PathBuf {
    std::env::temp_dir().join(format!("otrs-test-conf-{}", std::process::id()))
}

/// Starts the sandbox's Asterisk as start_world() does (same config
/// overlay, so otrs.conf is the default test config again) and waits until
/// the module has loaded the customer index.
pub fn start_asterisk() {
    let out = Command::new("bash")
        .arg(top().join("scripts/sandbox.sh"))
        .arg("start")
        .env("OTRS_SANDBOX_CONF_DIR", conf_dir())
        .output()
        .expect("start sandbox");
    assert!(
        out.status.success(),
        "sandbox start: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_customers_loaded();
}

/// Whether the sandbox's Asterisk answers on its control socket.
pub fn asterisk_alive() -> bool {
    // not "contains": sandbox.sh's "Asterisk is not running" also names it
    cli("core show version").trim_start().starts_with("Asterisk ")
}

fn full_log_path() -> PathBuf {
    sandbox_root().join("var/log/asterisk/full")
}

/// Where the full log ends now: pass to `log_since` to see only what a test
/// caused.
pub fn log_mark() -> u64 {
    std::fs::metadata(full_log_path()).map(|m| m.len()).unwrap_or(0)
}

/// The full log after `mark`, invalid UTF-8 (a hostile caller ID Asterisk
/// logged as it came) replaced by U+FFFD. From the start if the log was
/// rotated since.
pub fn log_since(mark: u64) -> String {
    let bytes = std::fs::read(full_log_path()).unwrap_or_default();
    let from = if (mark as usize) <= bytes.len() { mark as usize } else { 0 };
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

/// Waits until `cond` holds; false if it did not within `within`.
pub fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `[call:...]` marker at the end of a ticket title.
pub fn call_marker_of(title: &str) -> Option<String> {
    let at = title.rfind("[call:")?;
    let rest = &title[at + 6..];
    rest.strip_suffix(']').map(str::to_string)
}

/// Log timestamp `[2026-11-26 09:15:48.247]` as milliseconds of the day.
fn log_time_ms(line: &str) -> Option<u64> {
    let t = line.strip_prefix('[')?.get(11..23)?; // 09:15:48.247
    let (hms, ms) = t.split_once('.')?;
    let mut it = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

/// How long the call spent inside OTRSTicket(), from the dialplan's own
/// "Executing [4509@otrs:1]" and "[4509@otrs:2]" log lines of its channel
/// (excludes the time `asterisk -rx` took to originate it).
pub fn time_in_app(log: &str, call: &Call) -> Option<Duration> {
    let chan = format!("(\"Local/{}@", call.id);
    let at = |step: &str| log.lines().filter(|l| l.contains(step) && l.contains(&chan)).find_map(log_time_ms);
    let (a, b) = (at("Executing [4509@otrs:1]")?, at("Executing [4509@otrs:2]")?);
    Some(Duration::from_millis(b.checked_sub(a)?))
}

/// Waits for what the hangup handler (OTRSCallEnd) wrote for `call`.
pub fn wait_end(call: &Call, within: Duration) -> BTreeMap<String, String> {
    let path = test_dir().join(format!("end-{}", call.id));
    let until = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if text.contains("ENDSTATUS=") {
                return text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            }
        }
        assert!(Instant::now() < until, "OTRSCallEnd() did not run for call {}", call.id);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Article lines (TicketUpdate) the stand-in recorded.
pub fn articles(w: &World) -> Vec<BTreeMap<String, String>> {
    w.standin_lines().into_iter().filter(|l| l.starts_with("article")).map(|l| parse_record(&l)).collect()
}

impl World {
    pub fn standin_lines(&self) -> Vec<String> {
        self.standin.control_raw("GET", "/control/tickets").lines().map(str::to_string).collect()
    }
}

/// `asterisk -rx CMD` straight into the chroot, without scripts/sandbox.sh
/// around it (a few ms instead of tens): for originating many calls fast.
pub fn cli_direct(cmd: &str) -> String {
    let out = Command::new("chroot")
        .arg(sandbox_root())
        .args(["/usr/sbin/asterisk", "-rx", cmd])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("chroot asterisk -rx");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// place_call() through cli_direct().
pub fn place_call_fast(caller: &[u8]) -> Call {
    let n = NEXT_CALL.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = format!("{}{:04}", std::process::id() % 10000 + 1000, n);
    let dir = test_dir();
    for prefix in ["result-", "operator-"] {
        let _ = std::fs::remove_file(dir.join(format!("{prefix}{id}")));
    }
    std::fs::write(dir.join(format!("cid-{id}")), caller).expect("write caller id");
    let started = Instant::now();
    let out = cli_direct(&format!("channel originate Local/{id}@test-call application Wait 1"));
    assert!(!out.contains("No such") && !out.contains("Unable") && !out.contains("Unable to connect"), "originate: {out}");
    Call { id, started }
}
