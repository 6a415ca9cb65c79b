//! HTTP/1.x on a plain TcpStream, one thread per connection: request
//! reading, the fault modes, the control endpoint, and the
//! nph-genericinterface.pl transport (Kernel::GenericInterface::Transport::
//! HTTP::SOAP) in front of the operations.

use crate::ops::{self, Ctx, Outcome};
use crate::soap;
use crate::{Mode, Shared};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The web service's MaxLength on the recording server (rest/33): bigger
/// requests get 413 before their body is read.
pub const MAX_BODY: usize = 100_000_000;
const MAX_HEAD: usize = 64 * 1024;
const HUGE_SIZE: usize = 12 * 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Content-Length, or the decoded size of a chunked body
    pub length: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => &self.target,
        }
    }
    fn proto(&self) -> &str {
        if self.version == "HTTP/1.0" {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }
}

/// What the SOAP layer wants sent back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Http {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// unknown web service: read, send nothing, close after a while
    Silence,
    /// rpc.pl's reply (its own headers, see rpc::head)
    Rpc {
        status: u16,
        xml: bool,
        body: Vec<u8>,
    },
}

impl Reply {
    fn text(status: u16, body: &str) -> Reply {
        Reply::Http { status, content_type: "text/plain".into(), body: body.as_bytes().to_vec() }
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

pub fn head(proto: &str, status: u16, content_type: &str, len: usize) -> String {
    format!(
        "{} {} {}\r\nContent-Type: {}; charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        proto,
        status,
        reason(status),
        content_type,
        len
    )
}

enum ReadErr {
    Closed,
    Bad(&'static str),
    TooLarge,
}

fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((p, p + 4));
    }
    buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, p + 2))
}

/// Reads the request head; the bytes after it stay in `rest`.
fn read_head(s: &mut TcpStream) -> Result<(Request, Vec<u8>), ReadErr> {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 8192];
    let (end, body_start) = loop {
        if let Some(x) = find_head_end(&buf) {
            break x;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadErr::Bad("request head too large"));
        }
        match s.read(&mut tmp) {
            Ok(0) => return Err(if buf.is_empty() { ReadErr::Closed } else { ReadErr::Bad("incomplete request head") }),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(_) => return Err(ReadErr::Closed),
        }
    };
    let headtext = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = headtext.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let version = parts.next().unwrap_or("HTTP/1.0").to_string();
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/") {
        return Err(ReadErr::Bad("malformed request line"));
    }
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        match l.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
            None => return Err(ReadErr::Bad("malformed header line")),
        }
    }
    let req = Request { method, target, version, headers, body: Vec::new(), length: 0 };
    Ok((req, buf[body_start..].to_vec()))
}

/// Reads exactly `n` more bytes (fewer if the peer closes).
fn read_exact_more(s: &mut TcpStream, have: &mut Vec<u8>, n: usize) {
    let mut tmp = [0u8; 65536];
    while have.len() < n {
        let want = (n - have.len()).min(tmp.len());
        match s.read(&mut tmp[..want]) {
            Ok(0) | Err(_) => break,
            Ok(k) => have.extend_from_slice(&tmp[..k]),
        }
    }
}

fn read_line(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(p) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=p).collect();
            return Some(String::from_utf8_lossy(&line).trim().to_string());
        }
        let mut tmp = [0u8; 4096];
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&tmp[..k]),
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

fn read_chunked(s: &mut TcpStream, mut pending: Vec<u8>) -> Result<Vec<u8>, ReadErr> {
    let mut body = Vec::new();
    loop {
        let line = read_line(s, &mut pending).ok_or(ReadErr::Bad("bad chunked body"))?;
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| ReadErr::Bad("bad chunk size"))?;
        if size == 0 {
            // trailers up to the empty line
            while let Some(l) = read_line(s, &mut pending) {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadErr::TooLarge);
        }
        read_exact_more(s, &mut pending, size + 2);
        if pending.len() < size {
            return Err(ReadErr::Bad("truncated chunk"));
        }
        body.extend_from_slice(&pending[..size]);
        let used = (size + 2).min(pending.len());
        pending.drain(..used);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub fn log_line(peer: &str, req: &Request, what: &str) {
    let t = now_ms();
    let ts = crate::store::timestamp(t / 1000);
    eprintln!("{}.{:03} {} {} {} {}", ts, t % 1000, peer, req.method, req.target, what);
}

fn write_all(s: &mut TcpStream, data: &[u8]) -> bool {
    s.write_all(data).is_ok() && s.flush().is_ok()
}

/// The client went away (EOF or error on a non-blocking peek).
fn client_gone(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let gone = match s.peek(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    let _ = s.set_nonblocking(false);
    gone
}

/// Sleeps `ms`, ending early when the client goes away. Returns false if it
/// went away.
fn sleep_watching(s: &TcpStream, ms: u64) -> bool {
    let until = Instant::now() + Duration::from_millis(ms);
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
        if client_gone(s) {
            return false;
        }
    }
}

/// Serves the requests of one connection: one for SOAP and rpc.pl (their
/// replies say `Connection: close`), as many as the client sends for REST
/// (Znuny's REST replies keep it alive, rest samples).
pub fn handle_connection(s: TcpStream, shared: Arc<Shared>, control_only: bool) {
    let mut next = Some(s);
    while let Some(s) = next.take() {
        next = handle_one(s, &shared, control_only);
    }
}

/// One request; the connection back when it stays open for another.
fn handle_one(mut s: TcpStream, shared: &Arc<Shared>, control_only: bool) -> Option<TcpStream> {
    let shared = shared.clone();
    let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(60)));
    let _ = s.set_nodelay(true);
    let (mut req, rest) = match read_head(&mut s) {
        Ok(x) => x,
        Err(ReadErr::Closed) => return None,
        Err(e) => {
            let why = match e {
                ReadErr::Bad(w) => w,
                _ => "request head too large",
            };
            let body = format!("{}\n", why);
            let _ = write_all(&mut s, head("HTTP/1.1", 400, "text/plain", body.len()).as_bytes());
            let _ = write_all(&mut s, body.as_bytes());
            eprintln!("{} bad request: {}", peer, why);
            return None;
        }
    };
    let path = req.path().to_string();

    if path.starts_with("/control/") || path == "/control" {
        let n = req.header("Content-Length").and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0).min(1 << 20);
        let mut body = rest;
        read_exact_more(&mut s, &mut body, n);
        body.truncate(n);
        req.body = body;
        let (status, text) = control(&shared, &req);
        let _ = write_all(&mut s, head(req.proto(), status, "text/plain", text.len()).as_bytes());
        let _ = write_all(&mut s, text.as_bytes());
        log_line(&peer, &req, &format!("control {}", status));
        return None;
    }
    if control_only {
        let t = "Not Found\n";
        let _ = write_all(&mut s, head(req.proto(), 404, "text/plain", t.len()).as_bytes());
        let _ = write_all(&mut s, t.as_bytes());
        return None;
    }
    // OTOBO has no rpc.pl since 10.1 (2021): Apache's plain 404
    let rpc = crate::rpc::is_rpc_path(&path) && !shared.cfg.otobo;
    let rest_ws = ws_matches(&shared.cfg.rest_webservice, &path).is_some();
    if !rpc && !path.contains("nph-genericinterface.pl") {
        let t = "Not Found\n";
        let _ = write_all(&mut s, head(req.proto(), 404, "text/plain", t.len()).as_bytes());
        let _ = write_all(&mut s, t.as_bytes());
        log_line(&peer, &req, "404");
        return None;
    }

    // the SOAP request: read the whole body first
    let chunked = req.header("Transfer-Encoding").map(|v| v.to_lowercase().starts_with("chunked")).unwrap_or(false);
    let clen = req.header("Content-Length").and_then(|v| v.trim().parse::<usize>().ok());
    let expect = req.header("Expect").map(|v| v.to_lowercase().contains("100-continue")).unwrap_or(false);
    if clen.map(|n| n > MAX_BODY).unwrap_or(false) {
        let t = reason(413);
        let _ = write_all(&mut s, head(req.proto(), 413, "text/plain", t.len()).as_bytes());
        let _ = write_all(&mut s, t.as_bytes());
        log_line(&peer, &req, "413 body too large");
        return None;
    }
    if expect && req.version == "HTTP/1.1" && (chunked || clen.unwrap_or(0) > 0) && rest.is_empty() {
        let _ = write_all(&mut s, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    if chunked {
        match read_chunked(&mut s, rest) {
            Ok(b) => {
                req.length = b.len();
                req.body = b;
            }
            Err(ReadErr::TooLarge) => {
                let t = reason(413);
                let _ = write_all(&mut s, head(req.proto(), 413, "text/plain", t.len()).as_bytes());
                let _ = write_all(&mut s, t.as_bytes());
                log_line(&peer, &req, "413 body too large");
                return None;
            }
            Err(_) => {
                log_line(&peer, &req, "broken chunked body, closed");
                return None;
            }
        }
    } else {
        let n = clen.unwrap_or(0);
        let mut body = rest;
        read_exact_more(&mut s, &mut body, n);
        body.truncate(n);
        req.length = n;
        req.body = body;
    }

    let opname = if rpc {
        crate::rpc::op_name(&req)
    } else if rest_ws {
        crate::rest::op_name(&req)
    } else {
        request_op_name(&shared, &req)
    };
    crate::lock(&shared.store).count_request(&opname);

    let started = Instant::now();
    let mut mode;
    loop {
        let (m, gen) = shared.mode();
        mode = m;
        if mode != Mode::Hang {
            break;
        }
        // hang: hold the request until the client goes away or the mode
        // changes (then it is handled in the new mode)
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if client_gone(&s) {
                log_line(
                    &peer,
                    &req,
                    &format!("op={} hang: client went away after {} ms", opname, started.elapsed().as_millis()),
                );
                return None;
            }
            if shared.mode().1 != gen {
                break;
            }
        }
    }
    match mode {
        Mode::Close | Mode::Refuse | Mode::DownFor(_) => {
            let _ = s.shutdown(Shutdown::Both);
            log_line(&peer, &req, &format!("op={} mode={} closed without reply", opname, mode));
            return None;
        }
        Mode::Slow(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
        }
        _ => {}
    }
    if shared.cfg.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(shared.cfg.delay_ms));
    }
    let proto = req.proto().to_string();
    match mode {
        Mode::Fault if rpc => {
            let body = crate::rpc::mode_fault();
            let now = shared.now_ms().div_euclid(1000);
            let _ = write_all(&mut s, crate::rpc::head(&proto, 500, now, true, body.len()).as_bytes());
            let _ = write_all(&mut s, body.as_bytes());
            log_line(&peer, &req, &format!("op={} mode=fault 500", opname));
            return None;
        }
        Mode::Fault => {
            let msg = if opname == "TicketCreate" {
                "Ticket could not be created, please contact the system administrator"
            } else {
                "Unknown"
            };
            let body = soap::fault_in(soap::namespace(shared.cfg.otobo), msg);
            let _ = write_all(&mut s, head(&proto, 500, "text/plain", body.len()).as_bytes());
            let _ = write_all(&mut s, body.as_bytes());
            log_line(&peer, &req, &format!("op={} mode=fault 500", opname));
            return None;
        }
        Mode::Garbage => {
            let body = GARBAGE;
            let _ = write_all(&mut s, head(&proto, 200, "text/xml", body.len()).as_bytes());
            let _ = write_all(&mut s, body.as_bytes());
            log_line(&peer, &req, &format!("op={} mode=garbage 200", opname));
            return None;
        }
        _ => {}
    }

    let reply = if rpc {
        let r = crate::rpc::process(&shared, &req, mode == Mode::Error);
        Reply::Rpc { status: r.status, xml: r.xml, body: r.body }
    } else if rest_ws {
        crate::rest::process(&shared, &req, mode == Mode::Error)
    } else {
        process_soap(&shared, &req, mode == Mode::Error)
    };
    let now = shared.now_ms().div_euclid(1000);
    let (status, kind, body) = match reply {
        // OTOBO (PSGI): Kernel/GenericInterface/Provider.pm, Content: "Could
        // not find valid web service" -> _ThrowWebException, a Plack 500
        // with empty content; Plack::Middleware::ContentLength (otobo.psgi)
        // adds the length
        Reply::Silence if shared.cfg.otobo => {
            let _ = write_all(
                &mut s,
                format!("{proto} 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
            );
            let _ = s.shutdown(Shutdown::Write);
            log_line(&peer, &req, &format!("op={} unknown web service: 500, empty body (OTOBO)", opname));
            return None;
        }
        // Znuny: the NPH script prints nothing; Apache keeps the connection
        // for the next request until KeepAliveTimeout (rest/29: 15 s, SOAP
        // 31: 5 s), or closes it at once when the request said `Connection:
        // close` (rest/29)
        Reply::Silence => {
            let close = req.header("Connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
            if !close {
                let _ = sleep_watching(&s, shared.cfg.wrong_ws_delay_ms);
            }
            let _ = s.shutdown(Shutdown::Both);
            log_line(
                &peer,
                &req,
                &format!("op={} unknown web service: no reply, closed after {} ms", opname, started.elapsed().as_millis()),
            );
            return None;
        }
        Reply::Http { status, content_type, body } => (status, Err(content_type), body),
        Reply::Rpc { status, xml, body } => (status, Ok(xml), body),
    };
    // the head for a body of `len` bytes (rpc.pl's or the GenericInterface's)
    let keep = rest_ws && kind.is_err() && req.header("Connection").is_none_or(|c| !c.eq_ignore_ascii_case("close"));
    let make_head = |len: usize| match &kind {
        Ok(xml) => crate::rpc::head(&proto, status, now, *xml, len),
        Err(content_type) if keep => {
            head(&proto, status, content_type, len).replace("Connection: close", "Connection: Keep-Alive")
        }
        Err(content_type) => head(&proto, status, content_type, len),
    };
    {
        match mode {
            Mode::Truncated => {
                let h = make_head(body.len());
                let _ = write_all(&mut s, h.as_bytes());
                let _ = write_all(&mut s, &body[..body.len() / 2]);
                let _ = s.shutdown(Shutdown::Both);
                log_line(
                    &peer,
                    &req,
                    &format!("op={} mode=truncated {} sent {} of {} bytes", opname, status, body.len() / 2, body.len()),
                );
            }
            Mode::Huge => {
                // the real reply with a comment that makes it 12 MB
                let text = String::from_utf8_lossy(&body).to_string();
                let split = text.find("?>").map(|i| i + 2).unwrap_or(0);
                let (a, b) = text.split_at(split);
                let pad = HUGE_SIZE.saturating_sub(a.len() + b.len() + 7);
                let total = a.len() + 4 + pad + 3 + b.len();
                let mut ok = write_all(&mut s, make_head(total).as_bytes());
                ok = ok && write_all(&mut s, a.as_bytes()) && write_all(&mut s, b"<!--");
                let chunk = vec![b'x'; 65536];
                let mut left = pad;
                while ok && left > 0 {
                    let n = left.min(chunk.len());
                    ok = write_all(&mut s, &chunk[..n]);
                    left -= n;
                }
                ok = ok && write_all(&mut s, b"-->") && write_all(&mut s, b.as_bytes());
                log_line(
                    &peer,
                    &req,
                    &format!("op={} mode=huge {} {} bytes{}", opname, status, total, if ok { "" } else { " (client went away)" }),
                );
            }
            _ => {
                let h = make_head(body.len());
                let ok = write_all(&mut s, h.as_bytes()) && write_all(&mut s, &body);
                log_line(
                    &peer,
                    &req,
                    &format!(
                        "op={} mode={} {} {} bytes {} ms{}",
                        opname,
                        mode,
                        status,
                        body.len(),
                        started.elapsed().as_millis(),
                        if ok { "" } else { " (client went away)" }
                    ),
                );
                if ok && keep {
                    return Some(s);
                }
            }
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    None
}

const GARBAGE: &str = "Software error:\n\nDBI connect('database=otrs;host=127.0.0.1','otrs',...) failed: Too many connections at /opt/otrs/Kernel/System/DB.pm line 301.\n\nFor help, please send mail to the webmaster (root@localhost), giving this error message\nand the time and date of the error.\n";

/// The operation a request is for, for the request counters.
fn request_op_name(shared: &Shared, req: &Request) -> String {
    if ws_matches(&shared.cfg.webservice, req.path()).is_none() {
        return "_wrong_webservice".into();
    }
    match soap::parse_xml(&req.body) {
        Ok(root) => match soap::soap_body(&root) {
            Some(b) => b.keys().next().cloned().unwrap_or_else(|| "_no_body".into()),
            None => "_no_body".into(),
        },
        Err(_) => {
            if req.body.is_empty() {
                "_empty".into()
            } else {
                "_malformed".into()
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// `nph-genericinterface[.]pl/ (?: WebserviceID/(\d+) | Webservice/([^/?]+) )`;
/// Some(()) when it names the configured web service (ID 1).
pub fn ws_matches(name: &str, path: &str) -> Option<()> {
    let key = "nph-genericinterface.pl/";
    let mut from = 0;
    while let Some(p) = path[from..].find(key) {
        let rest = &path[from + p + key.len()..];
        if let Some(id) = rest.strip_prefix("WebserviceID/") {
            let digits: String = id.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !digits.is_empty() {
                return if digits.trim_start_matches('0') == "1" { Some(()) } else { None };
            }
        }
        if let Some(n) = rest.strip_prefix("Webservice/") {
            let raw: String = n.chars().take_while(|c| *c != '/' && *c != '?').collect();
            if !raw.is_empty() {
                return if percent_decode(&raw) == name { Some(()) } else { None };
            }
        }
        from += p + key.len();
    }
    None
}

/// `CONTENT_TYPE =~ m{ \A ( .+ ) ;\s*charset\s*=\s* ["']{0,1} ( .+? ) ["']{0,1} (;|\z) }xmsi`
fn content_type_parts(ct: &str) -> Option<(String, String)> {
    let bytes = ct.as_bytes();
    for i in (1..bytes.len()).rev() {
        if bytes[i] != b';' {
            continue;
        }
        let rest = ct[i + 1..].trim_start();
        if rest.get(..7).map(|x| x.eq_ignore_ascii_case("charset")).unwrap_or(false) {
            let r = rest[7..].trim_start();
            if let Some(r) = r.strip_prefix('=') {
                let v = r.trim_start().trim_start_matches(['"', '\'']);
                let v = v.split(';').next().unwrap_or("").trim_end_matches(['"', '\'']);
                if !v.is_empty() {
                    return Some((ct[..i].to_string(), v.to_string()));
                }
            }
        }
    }
    None
}

/// The transport and provider steps of Znuny for one request, with the
/// operation in between.
pub fn process_soap(shared: &Shared, req: &Request, error_mode: bool) -> Reply {
    if ws_matches(&shared.cfg.webservice, req.path()).is_none() {
        return Reply::Silence;
    }
    if req.length == 0 {
        return Reply::text(411, reason(411));
    }
    // OTOBO: the same checks in its own namespace (RotherOSS/otobo
    // Kernel/GenericInterface/Transport/HTTP/SOAP.pm, ProviderProcessRequest:
    // "SOAPAction '..' does not match expected result '<NameSpace>#<Operation>'",
    // answered by ProviderGenerateResponse as a Fault, HTTP 500, text/plain)
    let ns = soap::namespace(shared.cfg.otobo);
    let sa_header = req.header("SOAPAction").map(str::to_string);
    let mut op_from_header: Option<String> = None;
    // Znuny reads namespace and operation from the SOAPAction first; OTOBO's
    // ProviderProcessRequest does not (it takes the operation from the body
    // and only compares the whole SOAPAction, below)
    if let Some(h) = sa_header.as_deref().filter(|h| soap::perl_true(h) && !shared.cfg.otobo) {
        let (hns, hop) = soap::parse_soapaction(h);
        if let Some(hns) = hns {
            if hns != ns {
                return fault_in(
                    ns,
                    format!("Namespace from SOAPAction '{}' does not match namespace from configuration '{}'", hns, ns),
                );
            }
        }
        op_from_header = hop;
    }
    if req.body.is_empty() {
        return Reply::text(500, "Could not read input data");
    }
    let mut content_type: Option<String> = None;
    let mut body = req.body.clone();
    if let Some((ct, cs)) = req.header("Content-Type").and_then(content_type_parts) {
        content_type = Some(ct);
        let l = cs.to_lowercase();
        if matches!(l.as_str(), "iso-8859-1" | "latin1" | "iso8859-1" | "latin-1") {
            body = req.body.iter().map(|b| *b as char).collect::<String>().into_bytes();
        }
    }
    let root = match soap::parse_xml(&body) {
        Ok(r) => r,
        Err(e) => return Reply::text(500, &e.znuny_text()),
    };
    let soap_body = match soap::soap_body(&root) {
        Some(b) => b,
        None => return Reply::text(500, "Got no result body from deserialized content"),
    };
    let operation = soap_body.keys().next().cloned().unwrap_or_default();
    if let Some(hop) = op_from_header.as_deref().filter(|x| soap::perl_true(x)) {
        if operation != hop {
            return fault_in(
                ns,
                format!("Operation from SOAP data '{}' does not match operation from SOAPAction '{}'", operation, hop),
            );
        }
    }
    let operation = op_from_header.filter(|x| soap::perl_true(x)).unwrap_or(operation);
    let op_data = soap_body.get(&operation).or_else(|| soap_body.values().next()).cloned().unwrap_or(soap::Val::Undef);
    let op_data = match op_data {
        soap::Val::Str(s) if !soap::perl_true(&s) => soap::Val::Undef,
        v => v,
    };
    if let Some(h) = sa_header.as_deref().filter(|h| soap::perl_true(h) && *h != "\"\"" && *h != "''") {
        let stripped = soap::strip_soapaction(h);
        let expected = format!("{}#{}", ns, operation);
        let alt = format!("{}{}", ns, operation);
        if stripped != expected && stripped != alt {
            return fault_in(ns, format!("SOAPAction '{}' does not match expected result '{}'", stripped, expected));
        }
    }
    let now_ms = shared.now_ms();
    let ctx = Ctx {
        user: &shared.cfg.user,
        password: &shared.cfg.password,
        agent_name: &shared.cfg.agent_name,
        queues: &shared.cfg.queues,
        store: &shared.store,
        customers: &shared.customers,
        now: now_ms.div_euclid(1000),
        now_ms,
        soapaction: sa_header.as_deref().unwrap_or(""),
        error_mode,
        agents: &shared.cfg.agents,
        max_file: shared.cfg.max_file_bytes,
        dynamic_fields: &shared.cfg.dynamic_fields,
    };
    let result = match ops::run(&operation, &op_data, &ctx) {
        Some(r) => r,
        None => return fault_in(ns, "Got no OperationType!".into()),
    };
    for line in &result.ticket_lines {
        shared.record(line);
    }
    match result.outcome {
        Outcome::Fault(msg) => fault_in(ns, msg),
        Outcome::Data(h) => {
            let xml = soap::envelope_in(ns, &format!("{}Response", operation), &h);
            Reply::Http { status: 200, content_type: content_type.unwrap_or_else(|| "text/xml".into()), body: xml.into_bytes() }
        }
    }
}

fn fault_in(ns: &str, msg: String) -> Reply {
    Reply::Http { status: 500, content_type: "text/plain".into(), body: soap::fault_in(ns, &msg).into_bytes() }
}

/// GET /control/tickets (`api=generic` or `api=rpc` on each line), GET
/// /control/requests (rpc.pl's as `rpc.Object.Method`), GET|POST /control/mode,
/// POST /control/reset, POST /control/age (`ticket=ID minutes=N`).
pub fn control(shared: &Shared, req: &Request) -> (u16, String) {
    let path = req.path().trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/control/tickets") => {
            let st = crate::lock(&shared.store);
            let mut out = String::new();
            for l in &st.lines {
                out.push_str(l);
                out.push('\n');
            }
            (200, out)
        }
        ("GET", "/control/requests") => {
            let st = crate::lock(&shared.store);
            let mut out = String::new();
            let mut total = 0;
            for (k, v) in &st.requests {
                out.push_str(&format!("{}={}\n", k, v));
                total += v;
            }
            out.push_str(&format!("total={}\n", total));
            (200, out)
        }
        ("GET", "/control/mode") => (200, format!("{}\n", shared.mode().0)),
        ("POST", "/control/mode") | ("PUT", "/control/mode") => {
            let text = String::from_utf8_lossy(&req.body).trim().to_string();
            let text = text.strip_prefix("mode=").unwrap_or(&text).to_string();
            match Mode::parse(&text) {
                Ok(m) => {
                    shared.set_mode(m.clone());
                    eprintln!("mode set to {}", m);
                    (200, format!("{}\n", m))
                }
                Err(e) => (400, format!("{}\n", e)),
            }
        }
        ("POST", "/control/age") => {
            // "ticket=ID minutes=N": the ticket was created N minutes earlier
            // (tests of TicketCreateTime*Minutes without waiting)
            let text = String::from_utf8_lossy(&req.body).to_string();
            let field = |k: &str| text.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse::<i64>().ok());
            let (Some(id), Some(minutes)) = (field("ticket="), field("minutes=")) else {
                return (400, "expected: ticket=ID minutes=N\n".into());
            };
            let mut st = crate::lock(&shared.store);
            match st.tickets.iter_mut().find(|t| t.id as i64 == id) {
                Some(t) => {
                    t.created -= 60 * minutes;
                    (200, format!("ticket {id} created {minutes} min earlier\n"))
                }
                None => (404, format!("no ticket {id}\n")),
            }
        }
        ("POST", "/control/reset") => {
            crate::lock(&shared.store).reset();
            (200, "reset\n".into())
        }
        (_, "/control/tickets")
        | (_, "/control/requests")
        | (_, "/control/mode")
        | (_, "/control/reset")
        | (_, "/control/age") => (405, "Method Not Allowed\n".into()),
        _ => (404, "Not Found\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_paths() {
        let n = "GenericTicketConnectorSOAP";
        assert!(ws_matches(n, "/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP").is_some());
        assert!(ws_matches(n, "/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP/x").is_some());
        assert!(ws_matches(n, "/otrs/nph-genericinterface.pl/WebserviceID/1").is_some());
        assert!(ws_matches(n, "/otrs/nph-genericinterface.pl/Webservice/Other").is_none());
        assert!(ws_matches(n, "/otrs/nph-genericinterface.pl/").is_none());
        assert!(ws_matches("A B", "/nph-genericinterface.pl/Webservice/A%20B").is_some());
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_parts("text/xml; charset=utf-8"), Some(("text/xml".into(), "utf-8".into())));
        assert_eq!(
            content_type_parts("application/soap+xml;charset=\"UTF-8\";action=x"),
            Some(("application/soap+xml".into(), "UTF-8".into()))
        );
        assert_eq!(content_type_parts("text/xml"), None);
    }
}
