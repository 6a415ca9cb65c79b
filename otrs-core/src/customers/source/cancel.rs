//! One read of a source, bounded as a whole and stoppable from outside.
//!
//! The drivers' timeouts are per read: a server that trickles a byte every
//! few seconds (or a middlebox that does) keeps a refresh reading for as
//! long as it likes, and `module unload` waits for the refresh thread. So
//! every TCP connection a read opens is registered with the part's
//! [`Cutter`]; at the read's deadline, or when the refresher is stopped, the
//! cutter shuts the sockets down and the driver's blocked read returns at
//! once with an error. The connection is ours to cut: LDAP gets a stream we
//! opened ([`connect`]), MySQL and PostgreSQL (whose drivers open their own)
//! talk through a [`Relay`] on 127.0.0.1 whose sockets are ours.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Cuts the connections of the read in progress (see the module's docs).
#[derive(Debug, Default)]
pub struct Cutter {
    state: Mutex<CutState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct CutState {
    /// Sticky until [`Cutter::resume`]: every read now fails at once.
    stopped: bool,
    /// Why the current read was cut.
    reason: Option<String>,
    /// The current read has ended (its watchdog may go).
    done: bool,
    streams: Vec<TcpStream>,
}

impl Cutter {
    fn state(&self) -> std::sync::MutexGuard<'_, CutState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cuts the read in progress and every later one, until [`resume`](Self::resume).
    pub fn stop(&self) {
        let mut s = self.state();
        s.stopped = true;
        cut(&mut s, "the refresh was stopped (module unload or reload)");
        self.wake.notify_all();
    }

    /// Reads may run again (a new refresher thread).
    pub fn resume(&self) {
        let mut s = self.state();
        s.stopped = false;
        s.reason = None;
    }

    /// Whether the current read was cut, and why.
    pub(crate) fn reason(&self) -> Option<String> {
        self.state().reason.clone()
    }

    /// Registers a connection of the current read; shuts it at once if the
    /// read was cut already.
    pub(crate) fn register(&self, stream: &TcpStream) -> io::Result<()> {
        let clone = stream.try_clone()?;
        let mut s = self.state();
        if s.reason.is_some() {
            let _ = clone.shutdown(Shutdown::Both);
        } else {
            s.streams.push(clone);
        }
        Ok(())
    }

    /// Runs one read, `f`, cut if it has not ended `within` from now. A
    /// watchdog thread waits for the deadline; it is joined before this
    /// returns.
    pub(crate) fn run<T>(&self, within: Duration, f: impl FnOnce() -> T) -> T {
        {
            let mut s = self.state();
            s.done = false;
            s.streams.clear();
            s.reason = if s.stopped { Some("the refresh was stopped (module unload or reload)".into()) } else { None };
        }
        let deadline = Instant::now() + within;
        let out = thread::scope(|scope| {
            let watchdog = thread::Builder::new().name("otrs-cust-deadline".into()).spawn_scoped(scope, || {
                let mut s = self.state();
                while !s.done {
                    let now = Instant::now();
                    if now >= deadline {
                        let why =
                            format!("the read did not finish within {} s (the server is stalled or trickling)", within.as_secs());
                        cut(&mut s, &why);
                        break;
                    }
                    s = self.wake.wait_timeout(s, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
                }
            });
            let out = f();
            self.state().done = true;
            self.wake.notify_all();
            if let Ok(w) = watchdog {
                let _ = w.join();
            }
            out
        });
        self.state().streams.clear();
        out
    }
}

fn cut(s: &mut CutState, why: &str) {
    if s.reason.is_none() {
        s.reason = Some(why.to_string());
    }
    for stream in s.streams.drain(..) {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// A TCP connection to `host:port` within `timeout` (each address tried in
/// turn), registered with `cutter`.
pub(crate) fn connect(host: &str, port: u16, timeout: Duration, cutter: &Cutter) -> io::Result<TcpStream> {
    let timeout = if timeout.is_zero() { Duration::from_secs(5) } else { timeout };
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in addrs {
        if cutter.reason().is_some() {
            break;
        }
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true).ok();
                cutter.register(&stream)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A one-connection TCP relay on 127.0.0.1 to a server we connected to
/// already: the driver connects to [`port`](Relay::port) and its bytes go
/// through sockets the [`Cutter`] can shut. Dropping it ends its threads.
pub(crate) struct Relay {
    port: u16,
    /// Shut on drop: whatever the driver did, the pumps end.
    server: TcpStream,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Connects to `host:port` (an error here is the server's, e.g.
    /// connection refused), then listens for the driver.
    pub(crate) fn open(host: &str, port: u16, timeout: Duration, cutter: &Arc<Cutter>) -> io::Result<Relay> {
        let server = connect(host, port, timeout, cutter)?;
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let local = listener.local_addr()?.port();
        let cutter = Arc::clone(cutter);
        let own = server.try_clone()?;
        let thread = thread::Builder::new().name("otrs-cust-relay".into()).spawn(move || {
            let Ok((client, _)) = listener.accept() else { return };
            drop(listener);
            client.set_nodelay(true).ok();
            if cutter.register(&client).is_err() {
                return;
            }
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { return };
            let back = thread::Builder::new().name("otrs-cust-relay".into()).spawn(move || pump(s2, c2));
            pump(client, server);
            if let Ok(b) = back {
                let _ = b.join();
            }
        })?;
        Ok(Relay { port: local, server: own, thread: Some(thread) })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Registers the relay's connection with the read now running (a relay
    /// kept from an earlier read): cutting it ends both directions.
    pub(crate) fn register(&self, cutter: &Cutter) -> io::Result<()> {
        cutter.register(&self.server)
    }
}

/// Copies `from` to `to` until either ends, then shuts both: the other
/// direction ends too (a server that never closes cannot keep it).
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.server.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            if !t.is_finished() {
                // Still in accept() if the driver never connected: wake it.
                if let Ok(s) = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1))
                {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A server that accepts, sends one byte, then nothing (or a byte a
    /// second): the read must end at the deadline.
    fn silent_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        thread::spawn(move || {
            let mut keep = Vec::new();
            for mut c in l.incoming().flatten() {
                let _ = c.write_all(b"x");
                keep.push(c);
            }
        });
        port
    }

    #[test]
    fn a_stalled_read_through_the_relay_ends_at_the_deadline() {
        let cutter = Arc::new(Cutter::default());
        let port = silent_server();
        let started = Instant::now();
        let out = cutter.run(Duration::from_millis(300), || {
            let relay = Relay::open("127.0.0.1", port, Duration::from_secs(1), &cutter).expect("relay");
            let mut c = TcpStream::connect(("127.0.0.1", relay.port())).expect("connect");
            // A per-read timeout far longer than the deadline.
            c.set_read_timeout(Some(Duration::from_secs(30))).ok();
            let mut buf = [0u8; 16];
            let first = c.read(&mut buf).expect("first byte");
            let second = c.read(&mut buf);
            drop(c);
            (first, second.map_err(|e| e.kind()))
        });
        assert_eq!(out.0, 1);
        assert!(matches!(out.1, Ok(0) | Err(_)), "{:?}", out.1);
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(cutter.reason().expect("cut").contains("did not finish within"));
    }

    #[test]
    fn stop_cuts_a_read_at_once_and_every_later_one() {
        let cutter = Arc::new(Cutter::default());
        let port = silent_server();
        let c2 = Arc::clone(&cutter);
        let stopper = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            c2.stop();
        });
        let started = Instant::now();
        let n = cutter.run(Duration::from_secs(60), || {
            let mut s = connect("127.0.0.1", port, Duration::from_secs(1), &cutter).expect("connect");
            let mut buf = [0u8; 16];
            let _ = s.read(&mut buf);
            s.read(&mut buf).unwrap_or(0)
        });
        stopper.join().expect("stopper");
        assert_eq!(n, 0);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(cutter.reason().expect("cut").contains("stopped"));
        // Stopped stays stopped: the next read is cut before it starts.
        let next =
            cutter.run(Duration::from_secs(60), || connect("127.0.0.1", port, Duration::from_secs(1), &cutter).map(|_| ()));
        assert!(next.is_err() || cutter.reason().is_some());
        cutter.resume();
        assert!(cutter.run(Duration::from_secs(5), || cutter.reason()).is_none());
    }

    #[test]
    fn a_relay_passes_bytes_both_ways_and_ends_with_the_client() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let echo = thread::spawn(move || {
            let (mut c, _) = l.accept().expect("accept");
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => c.write_all(&buf[..n]).expect("echo"),
                }
            }
        });
        let cutter = Arc::new(Cutter::default());
        cutter.run(Duration::from_secs(10), || {
            let relay = Relay::open("127.0.0.1", port, Duration::from_secs(1), &cutter).expect("relay");
            let mut c = TcpStream::connect(("127.0.0.1", relay.port())).expect("connect");
            let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let writer = {
                let mut w = c.try_clone().expect("clone");
                let data = data.clone();
                thread::spawn(move || w.write_all(&data).expect("write"))
            };
            let mut got = vec![0u8; data.len()];
            c.read_exact(&mut got).expect("read back");
            writer.join().expect("writer");
            assert_eq!(got, data);
        });
        echo.join().expect("echo ends when the relay closes");
        assert!(cutter.reason().is_none());
        // A relay the driver never connected to ends when dropped.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let relay =
            Relay::open("127.0.0.1", l.local_addr().expect("addr").port(), Duration::from_secs(1), &cutter).expect("relay");
        drop(relay);
    }

    #[test]
    fn a_refused_connection_is_the_servers_error() {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let cutter = Arc::new(Cutter::default());
        let e = Relay::open("127.0.0.1", port, Duration::from_secs(1), &cutter).err().expect("refused");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    }
}
