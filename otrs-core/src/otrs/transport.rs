//! HTTP for the OTRS clients (GenericInterface and rpc.pl): one POST,
//! all of it (DNS, connect, send, reply) bounded by the caller's deadline,
//! the reply read in full up to a size cap, errors mapped to
//! [`ClientError`] without ever printing the URL (it may hold a password).

use std::cell::Cell;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::error::{check_url, ClientError};
use crate::runtime::lock;
use crate::text::one_line;

/// Largest reply read from OTRS unless configured otherwise: a ticket
/// reply is a few KiB, so more is a misbehaving server.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 1024 * 1024;

/// An HTTP reply read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// ureq applies the agent's connect timeout instead of the request's
/// deadline, so the agent is built for a budget and replaced when the time
/// left no longer fits it.
struct CachedAgent {
    agent: ureq::Agent,
    connect_timeout: Duration,
    /// When a request last started on it.
    last_used: Instant,
}

/// Pooled connections idle longer than this are not reused (the agent and
/// its pool are dropped): servers close idle keep-alive connections
/// (Apache's KeepAliveTimeout is 5 s by default), and a request sent on one
/// they dropped silently would wait for its whole budget.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(4);

/// POSTs to one URL; share it between threads.
pub(crate) struct Transport {
    url: String,
    /// Why `url` is unusable; every call then fails without I/O.
    url_error: Option<String>,
    max_reply_bytes: usize,
    agent: Mutex<Option<CachedAgent>>,
}

impl Transport {
    /// `max_reply_bytes` 0 means [`DEFAULT_MAX_REPLY_BYTES`].
    pub fn new(url: &str, max_reply_bytes: usize) -> Transport {
        let max_reply_bytes = if max_reply_bytes == 0 { DEFAULT_MAX_REPLY_BYTES } else { max_reply_bytes };
        Transport { url: url.to_string(), url_error: check_url(url).err(), max_reply_bytes, agent: Mutex::new(None) }
    }

    /// One HTTP POST, all of it bounded by `deadline`. `what` names the
    /// operation in error messages.
    pub fn post(
        &self,
        soap_action: &str,
        content_type: &str,
        body: &str,
        deadline: Instant,
        what: &str,
        conn: Conn,
    ) -> Result<Reply, ClientError> {
        let headers = [("Content-Type", content_type), ("SOAPAction", soap_action)];
        self.send("POST", "", &headers, Some(body.as_bytes()), deadline, what, conn)
    }

    /// One HTTP request to the URL followed by `path` (REST routes: `/Ticket/860`),
    /// all of it bounded by `deadline`; `body` None sends none (GET).
    #[allow(clippy::too_many_arguments)] // one request's parts, named at each call
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        deadline: Instant,
        what: &str,
        conn: Conn,
    ) -> Result<Reply, ClientError> {
        if let Some(why) = &self.url_error {
            return Err(ClientError::Connect(why.clone()));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ClientError::Connect(format!("no time left to send {what}")));
        }
        let url = match path.is_empty() {
            true => std::borrow::Cow::Borrowed(self.url.as_str()),
            false => std::borrow::Cow::Owned(format!("{}{path}", self.url.trim_end_matches('/'))),
        };
        let _dns = DnsDeadline::set(deadline);
        // ureq's own error type, as `send_bytes` returns it
        #[allow(clippy::result_large_err)]
        let send = |agent: &ureq::Agent, remaining: Duration| {
            let mut req = agent.request(method, &url).timeout(remaining);
            for (name, value) in headers {
                req = req.set(name, value);
            }
            if conn == Conn::Alone {
                req = req.set("Connection", "close");
            }
            match body {
                Some(body) => req.send_bytes(body),
                None => req.call(),
            }
        };
        let result = match conn {
            Conn::Pooled => {
                let (agent, reused) = self.agent_for(remaining);
                let mut result = send(&agent, remaining);
                // A pooled connection the server had closed fails before any reply
                // byte (reset, broken pipe, EOF): the request did not reach OTRS.
                // Once more on a fresh connection, within the same deadline.
                if let Err(ureq::Error::Transport(t)) = &result {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if reused && stale_connection(t) && !left.is_zero() {
                        *lock(&self.agent) = None;
                        let (fresh, _) = self.agent_for(left);
                        // a retry that fails too reports the first failure: that
                        // request may have reached OTRS after all (a server that
                        // died mid-request looks the same), so it stays ambiguous
                        match send(&fresh, left) {
                            Err(ureq::Error::Transport(_)) => {}
                            replied => result = replied,
                        }
                    }
                }
                result
            }
            Conn::Alone => {
                // A wrong web service name: Znuny closes at once, unanswered
                // (rest/29 with `Connection: close`). A server process that
                // dies mid-request does the same, once: so a second try on
                // another fresh connection, and only two in a row are NoReply.
                let first = send(&lone_agent(remaining), remaining);
                let left = deadline.saturating_duration_since(Instant::now());
                match &first {
                    Err(ureq::Error::Transport(t)) if no_reply_byte(t) && !left.is_zero() => {
                        match send(&lone_agent(left), left) {
                            Err(ureq::Error::Transport(t)) if no_reply_byte(&t) => return Err(ClientError::NoReply),
                            second => second,
                        }
                    }
                    _ => first,
                }
            }
        };
        let response = match result {
            Ok(response) => response,
            // 4xx/5xx still carry a body; Znuny's faults are envelopes in a 500
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
        };
        read_reply(response, self.max_reply_bytes)
    }

    /// An agent whose connect timeout fits in `remaining`. Building one is
    /// cheap; keeping it lets keep-alive connections be reused (Znuny only
    /// keeps them with `SOAP::Keep-Alive` on). Connect gets at most half of
    /// the time left; the agent is kept while that stays between a quarter
    /// and all of it.
    /// Also whether the agent was used before (its pool may hold a
    /// connection the server has closed since). An agent idle for
    /// [`KEEPALIVE_IDLE`] is replaced, its idle connections dropped.
    fn agent_for(&self, remaining: Duration) -> (ureq::Agent, bool) {
        let mut slot = lock(&self.agent);
        if let Some(cached) = slot.as_mut() {
            let fits = cached.connect_timeout <= remaining && cached.connect_timeout >= remaining / 4;
            if fits && cached.last_used.elapsed() < KEEPALIVE_IDLE {
                cached.last_used = Instant::now();
                return (cached.agent.clone(), true);
            }
        }
        let connect_timeout = (remaining / 2).max(Duration::from_millis(1));
        // a burst of calls to an OTRS that keeps connections open
        // (SOAP::Keep-Alive, or a proxy) reuses them all afterwards
        let agent = agent_builder(connect_timeout).max_idle_connections(256).max_idle_connections_per_host(256).build();
        *slot = Some(CachedAgent { agent: agent.clone(), connect_timeout, last_used: Instant::now() });
        (agent, false)
    }
}

/// How a request uses connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conn {
    /// A kept-alive connection when there is one (the tickets' requests).
    Pooled,
    /// Alone on a new connection, `Connection: close`, tried twice when
    /// the server closes it without one reply byte, then
    /// [`ClientError::NoReply`]. Only for a request that changes nothing
    /// (SessionCreate, rare): an unanswered ticket request stays ambiguous.
    Alone,
}

impl Conn {
    /// SessionCreate goes alone (see [`Conn::Alone`]); the rest pooled.
    pub(crate) fn for_op(op: &str) -> Conn {
        if op == "SessionCreate" {
            Conn::Alone
        } else {
            Conn::Pooled
        }
    }
}

fn agent_builder(connect_timeout: Duration) -> ureq::AgentBuilder {
    ureq::AgentBuilder::new()
        .timeout_connect(connect_timeout)
        .redirects(0) // a redirected POST would turn into a GET
        .resolver(DeadlineResolver)
        .user_agent(concat!("app_otrsticket/", env!("CARGO_PKG_VERSION")))
}

/// An agent that keeps no connection: every request gets a new one.
fn lone_agent(remaining: Duration) -> ureq::Agent {
    agent_builder((remaining / 2).max(Duration::from_millis(1))).max_idle_connections(0).build()
}

/// The helper threads of DNS lookups (see [`DeadlineResolver`]), which a
/// call may have stopped waiting for. The module must not unload while one
/// still runs its code: [`join_dns_threads`] before unload.
static DNS_THREADS: Mutex<Vec<thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Joins the DNS helper threads, waiting at most `wait` for those still
/// resolving. False when some are still running.
pub fn join_dns_threads(wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        let mut threads = lock(&DNS_THREADS);
        let (done, running): (Vec<_>, Vec<_>) = threads.drain(..).partition(|h| h.is_finished());
        *threads = running;
        drop(threads);
        for h in done {
            let _ = h.join();
        }
        if lock(&DNS_THREADS).is_empty() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Reads the whole reply, refusing more than `max` bytes.
pub(crate) fn read_reply(response: ureq::Response, max: usize) -> Result<Reply, ClientError> {
    let status = response.status();
    let content_type = response.header("Content-Type").unwrap_or_default().to_string();
    let declared = response.header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    let max64 = u64::try_from(max).unwrap_or(u64::MAX);
    if declared.is_some_and(|len| len > max64) {
        return Err(ClientError::TooLarge);
    }
    let mut body = Vec::new();
    response.into_reader().take(max64.saturating_add(1)).read_to_end(&mut body).map_err(|e| io_error(&e))?;
    if body.len() > max {
        return Err(ClientError::TooLarge);
    }
    Ok(Reply { status, content_type, body })
}

fn io_error(e: &io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ClientError::Timeout,
        _ => ClientError::Io(root_cause(e)),
    }
}

/// Maps a ureq transport failure. Built from the error's parts, never its
/// `Display`, which would print the URL (and any password in it).
fn transport_error(t: &ureq::Transport) -> ClientError {
    use ureq::ErrorKind as K;
    let io_kind = io_source(t).map(io::Error::kind);
    let timed_out = matches!(io_kind, Some(io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock));
    let why = match (t.message(), std::error::Error::source(t)) {
        (Some(m), Some(src)) => format!("{m}: {}", root_cause(src)),
        (Some(m), None) => m.to_string(),
        (None, Some(src)) => root_cause(src),
        (None, None) => t.kind().to_string(),
    };
    match t.kind() {
        K::ConnectionFailed if timed_out => ClientError::Connect("connect timed out".into()),
        K::Dns if timed_out => ClientError::Connect("DNS lookup timed out".into()),
        K::Dns | K::ConnectionFailed | K::InvalidUrl | K::UnknownScheme | K::InsecureRequestHttpsOnly => {
            ClientError::Connect(why)
        }
        K::InvalidProxyUrl | K::ProxyConnect | K::ProxyUnauthorized => ClientError::Connect(why),
        _ if timed_out => ClientError::Timeout,
        _ => ClientError::Io(why),
    }
}

/// A failure of a kept-alive connection the server closed: nothing of the
/// reply came, and the server did not take the request.
fn stale_connection(t: &ureq::Transport) -> bool {
    matches!(
        io_source(t).map(io::Error::kind),
        Some(
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    ) || t.message().is_some_and(|m| m.contains("closed") || m.contains("EOF"))
}

/// The server closed the connection before the reply's head was read
/// (ureq: "Unexpected EOF" on a clean close, UnexpectedEof in the status
/// line when TLS ends without close_notify). A reset is not this (a
/// firewall, or a server that dropped our request unread).
fn no_reply_byte(t: &ureq::Transport) -> bool {
    io_source(t).is_some_and(|e| match e.kind() {
        io::ErrorKind::ConnectionAborted => e.to_string() == "Unexpected EOF",
        io::ErrorKind::UnexpectedEof => e.to_string().contains("the status line"),
        _ => false,
    })
}

fn io_source(t: &ureq::Transport) -> Option<&io::Error> {
    std::error::Error::source(t)?.downcast_ref::<io::Error>()
}

/// Display of the innermost error of a chain ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    one_line(&inner.to_string(), 120)
}

thread_local! {
    /// Deadline of the request this thread is sending; ureq runs the
    /// resolver on the calling thread, so the resolver finds it here.
    static DNS_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Sets [`DNS_DEADLINE`] for the scope of one request.
struct DnsDeadline;

impl DnsDeadline {
    fn set(deadline: Instant) -> DnsDeadline {
        DNS_DEADLINE.with(|d| d.set(Some(deadline)));
        DnsDeadline
    }
}

impl Drop for DnsDeadline {
    fn drop(&mut self) {
        DNS_DEADLINE.with(|d| d.set(None));
    }
}

/// How long a resolved OTRS host is reused. Without it every ticket cost a
/// getaddrinfo (and a helper thread) on the call's thread.
const DNS_TTL: Duration = Duration::from_secs(30);
/// When a new lookup fails (resolver down), an older answer is still used
/// for this long: the OTRS host rarely moves, and a resolver hiccup must not
/// send every ticket to the spool.
const DNS_STALE_MAX: Duration = Duration::from_secs(600);

/// host:port -> (addresses, when resolved).
static DNS_CACHE: Mutex<Vec<(String, Vec<SocketAddr>, Instant)>> = Mutex::new(Vec::new());

/// Names that went to the resolver (not the cache), for the tests.
#[cfg(test)]
static DNS_LOOKED_UP: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn dns_cached(netloc: &str, max_age: Duration) -> Option<Vec<SocketAddr>> {
    let cache = lock(&DNS_CACHE);
    let (_, addrs, at) = cache.iter().find(|(n, _, _)| n == netloc)?;
    (at.elapsed() < max_age).then(|| addrs.clone())
}

fn dns_store(netloc: &str, addrs: &[SocketAddr]) {
    let mut cache = lock(&DNS_CACHE);
    // a handful of hosts at most (one per configured URL); old ones go
    cache.retain(|(n, _, at)| n != netloc && at.elapsed() < DNS_STALE_MAX);
    cache.push((netloc.to_string(), addrs.to_vec(), Instant::now()));
}

/// ureq cannot bound a DNS lookup, so a name is resolved on a helper thread
/// that is abandoned when the deadline passes (it ends when getaddrinfo
/// does). IP addresses need no lookup; names are cached for [`DNS_TTL`].
struct DeadlineResolver;

impl ureq::Resolver for DeadlineResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        if let Ok(addr) = netloc.parse::<SocketAddr>() {
            return Ok(vec![addr]);
        }
        if let Some(addrs) = dns_cached(netloc, DNS_TTL) {
            return Ok(addrs);
        }
        #[cfg(test)]
        lock(&DNS_LOOKED_UP).push(netloc.to_string());
        let result = resolve_by_deadline(netloc);
        match result {
            Ok(addrs) if !addrs.is_empty() => {
                dns_store(netloc, &addrs);
                Ok(addrs)
            }
            other => dns_cached(netloc, DNS_STALE_MAX).map(Ok).unwrap_or(other),
        }
    }
}

fn resolve_by_deadline(netloc: &str) -> io::Result<Vec<SocketAddr>> {
    let Some(deadline) = DNS_DEADLINE.with(Cell::get) else {
        return netloc.to_socket_addrs().map(Iterator::collect);
    };
    let (tx, rx) = mpsc::channel();
    let name = netloc.to_string();
    let handle = thread::Builder::new().name("otrs-dns".into()).spawn(move || {
        let _ = tx.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    })?;
    {
        // keep the list short: finished lookups need no joining later
        let mut threads = lock(&DNS_THREADS);
        threads.retain(|h| !h.is_finished());
        threads.push(handle);
    }
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "DNS lookup timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::Resolver;

    fn lookups(netloc: &str) -> usize {
        lock(&DNS_LOOKED_UP).iter().filter(|n| *n == netloc).count()
    }

    /// A server that keeps the connection after its first reply, then
    /// resets it unread when the next request comes (an idle keep-alive
    /// connection it had given up); new connections are answered.
    fn resetting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/otrs/rpc.pl", listener.local_addr().unwrap());
        let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n = conns.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut r = BufReader::new(stream.try_clone().unwrap());
                    let mut w = stream;
                    let mut len = 0usize;
                    let mut line = String::new();
                    while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        line.clear();
                    }
                    let mut body = vec![0; len];
                    let _ = std::io::Read::read_exact(&mut r, &mut body);
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\nok");
                    // the next request on this connection: closed unread,
                    // the client gets EOF before any reply byte
                    let mut one = [0u8; 1];
                    let _ = std::io::Read::read(&mut r, &mut one);
                    let _ = w.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        (url, conns)
    }

    #[test]
    fn a_kept_alive_connection_the_server_closed_costs_no_call() {
        let (url, conns) = resetting_server();
        let t = Transport::new(&url, 1 << 20);
        let soon = || Instant::now() + Duration::from_secs(3);
        assert_eq!(t.post("x", "text/xml", "a", soon(), "first", Conn::Pooled).expect("first").body, b"ok");
        // the pooled connection is dead: retried once on a fresh one
        let started = Instant::now();
        let r = t.post("x", "text/xml", "b", soon(), "second", Conn::Pooled);
        assert_eq!(r.expect("second, on a fresh connection").body, b"ok");
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn an_idle_agent_is_replaced_with_its_pool() {
        let t = Transport::new("http://127.0.0.1:9/otrs/rpc.pl", 1 << 20);
        let (_, reused) = t.agent_for(Duration::from_secs(3));
        assert!(!reused);
        assert!(t.agent_for(Duration::from_secs(3)).1, "kept while in use");
        lock(&t.agent).as_mut().unwrap().last_used = Instant::now() - KEEPALIVE_IDLE;
        assert!(!t.agent_for(Duration::from_secs(3)).1, "idle too long: a new agent, no old connections");
    }

    #[test]
    fn a_name_is_resolved_once_per_ttl() {
        // own port: the cache is shared with the other tests
        let netloc = "localhost:18181";
        let first = DeadlineResolver.resolve(netloc).expect("localhost resolves");
        assert!(!first.is_empty());
        assert_eq!(lookups(netloc), 1);
        for _ in 0..5 {
            assert_eq!(DeadlineResolver.resolve(netloc).expect("cached"), first);
        }
        assert_eq!(lookups(netloc), 1, "answered from the cache");
        // expired: looked up again (a lookup counted), and stored anew
        {
            let mut cache = lock(&DNS_CACHE);
            for e in cache.iter_mut().filter(|e| e.0 == netloc) {
                e.2 = Instant::now() - DNS_TTL - Duration::from_secs(1);
            }
        }
        assert!(dns_cached(netloc, DNS_TTL).is_none());
        DeadlineResolver.resolve(netloc).expect("resolves again");
        assert_eq!(lookups(netloc), 2, "expired: asked the resolver again");
        assert!(dns_cached(netloc, DNS_TTL).is_some());
    }

    #[test]
    fn a_failed_lookup_falls_back_to_the_last_answer() {
        // a name that cannot resolve (RFC 6761 .invalid), with a stored answer
        let netloc = "otrs.app-otrsticket.invalid:80";
        let addr: SocketAddr = "192.0.2.7:80".parse().unwrap();
        assert!(DeadlineResolver.resolve(netloc).is_err(), "nothing stored yet: the failure shows");
        dns_store(netloc, &[addr]);
        {
            let mut cache = lock(&DNS_CACHE);
            for e in cache.iter_mut().filter(|e| e.0 == netloc) {
                e.2 = Instant::now() - DNS_TTL - Duration::from_secs(1);
            }
        }
        assert_eq!(DeadlineResolver.resolve(netloc).expect("stale answer"), vec![addr]);
        {
            let mut cache = lock(&DNS_CACHE);
            for e in cache.iter_mut().filter(|e| e.0 == netloc) {
                e.2 = Instant::now() - DNS_STALE_MAX - Duration::from_secs(1);
            }
        }
        assert!(DeadlineResolver.resolve(netloc).is_err(), "too old to stand in");
    }
}

/// Znuny's answer to a wrong web service name (samples rest/29, SOAP 31),
/// for the clients' tests: each connection's request is read, then the
/// connection is closed without a reply byte: at once when the request
/// says `Connection: close`, else after `hold` (Apache's KeepAliveTimeout).
/// Connections from number `answer_from` on (0-based) get `reply` instead
/// (`usize::MAX`: none). Returns the URL
/// (`…/Webservice/<name>`) and the request heads seen.
#[cfg(test)]
pub(crate) fn unanswering_server(
    name: &str,
    hold: Duration,
    answer_from: usize,
    reply: &'static [u8],
) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/otrs/nph-genericinterface.pl/Webservice/{name}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    thread::spawn(move || {
        for (n, stream) in listener.incoming().flatten().enumerate() {
            let seen = seen.clone();
            thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                let (mut head, mut line, mut len) = (String::new(), String::new(), 0usize);
                while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                    line.clear();
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let close = head.to_ascii_lowercase().contains("\r\nconnection: close");
                lock(&seen).push(head);
                if n >= answer_from {
                    let _ = w.write_all(reply);
                } else if !close {
                    thread::sleep(hold);
                }
                let _ = w.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (url, heads)
}

#[cfg(test)]
mod no_reply_tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn a_login_closed_unanswered_twice_at_once_is_no_reply() {
        let (url, heads) = unanswering_server("GenericTicketConnectorRESTX", Duration::from_secs(15), usize::MAX, OK);
        let t = Transport::new(&url, 1 << 20);
        let started = Instant::now();
        let e = t.send("POST", "/Session", &[], Some(b"{}"), soon(), "SessionCreate", Conn::Alone).err();
        assert_eq!(e, Some(ClientError::NoReply));
        // `Connection: close` makes the server close at once, not after its 15 s
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        let heads = lock(&heads).clone();
        assert_eq!(heads.len(), 2, "two fresh connections: {heads:?}");
        assert!(heads.iter().all(|h| h.contains("Connection: close\r\n")), "{heads:?}");
    }

    #[test]
    fn one_connection_closed_unanswered_is_tried_again() {
        // a server process that died once: the next one answers
        let (url, heads) = unanswering_server("GenericTicketConnectorSOAP", Duration::from_secs(15), 1, OK);
        let t = Transport::new(&url, 1 << 20);
        let r = t.send("POST", "", &[], Some(b"x"), soon(), "SessionCreate", Conn::Alone);
        assert_eq!(r.expect("answered on the second connection").body, b"ok");
        assert_eq!(lock(&heads).len(), 2);
    }

    #[test]
    fn a_ticket_request_closed_unanswered_stays_ambiguous() {
        let (url, heads) = unanswering_server("GenericTicketConnectorRESTX", Duration::from_millis(300), usize::MAX, OK);
        let t = Transport::new(&url, 1 << 20);
        let e = t.send("POST", "/Ticket", &[], Some(b"{}"), soon(), "TicketCreate", Conn::Pooled).unwrap_err();
        assert!(matches!(e, ClientError::Io(_)) && e.maybe_delivered(), "{e:?}");
        assert_eq!(e.failure(), crate::otrs::error::Failure::Down);
        assert_eq!(lock(&heads).len(), 1, "sent once: it may have been done");
        assert!(!lock(&heads)[0].contains("Connection: close"));
    }
}
