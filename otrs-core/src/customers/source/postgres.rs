//! A PostgreSQL table of customers (Znuny and OTOBO on PostgreSQL, or any
//! table with a column map), through the sync `postgres` client.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use mysql::Value;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::cancel::{Cutter, Relay};
use super::config::{PgSettings, SqlMap, SslMode};
use super::sql::{changed_sql, full_sql, row_from_cells, valid_text, Dialect};
use super::tls::client_config;
use super::CustomerSource;
use crate::customers::db::{ChangeTime, CustomerRow};

pub(crate) struct PgSource {
    pg: PgSettings,
    map: SqlMap,
    /// Read once, when the configuration is installed (as for https).
    tls: Result<Arc<rustls::ClientConfig>, String>,
    /// The connection of the previous read, kept for the next one: a new
    /// PostgreSQL connection costs a server process, the password exchange
    /// (SCRAM) and the statement's preparation, some 10 ms, which an
    /// incremental pass with nothing to read would otherwise spend every time.
    kept: Mutex<Option<Kept>>,
}

impl Drop for PgSource {
    /// The kept connection says goodbye and waits for the server to close
    /// it: bounded, so that a server that stopped answering cannot hold up
    /// `module unload` (every other drop happens inside a bounded read).
    fn drop(&mut self) {
        let kept = self.kept.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(k) = kept {
            let cutter = Cutter::default();
            cutter.run(std::time::Duration::from_secs(2), || {
                if let Some(r) = &k.relay {
                    let _ = r.register(&cutter);
                }
                drop(k);
            });
        }
    }
}

/// An open connection and its prepared statements (dropped in this order:
/// the statements, the client saying goodbye, then the relay).
struct Kept {
    full: Option<Statement>,
    changed: Option<Statement>,
    client: Client,
    relay: Option<Relay>,
}

impl std::fmt::Debug for PgSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSource").field("pg", &self.pg).field("map", &self.map).finish_non_exhaustive()
    }
}

impl PgSource {
    pub(crate) fn new(pg: PgSettings, map: SqlMap) -> Self {
        let tls = match pg.sslmode {
            SslMode::Disable => Err("sslmode = disable".to_string()),
            _ => client_config(pg.tls_ca_file.as_deref()),
        };
        PgSource { pg, map, tls, kept: Mutex::new(None) }
    }

    fn target(&self) -> String {
        format!("{}:{} (database {})", self.pg.host, self.pg.port, self.pg.name)
    }

    /// Over TCP through a [`Relay`] (`hostaddr` the relay, `host` still the
    /// server's name for TLS), so that `cutter` can end a stalled read.
    fn connect(&self, cutter: &Arc<Cutter>) -> Result<Kept, String> {
        let p = &self.pg;
        let mut config = postgres::Config::new();
        let relay = if p.host.starts_with('/') {
            config.port(p.port);
            None
        } else {
            let relay = Relay::open(&p.host, p.port, p.connect_timeout, cutter)
                .map_err(|e| format!("cannot connect to the PostgreSQL database at {}: {e}", self.target()))?;
            config.hostaddr(std::net::IpAddr::from([127, 0, 0, 1])).port(relay.port());
            Some(relay)
        };
        config
            .host(&p.host)
            .user(&p.user)
            .dbname(&p.name)
            .application_name("app_otrsticket")
            .connect_timeout(p.connect_timeout)
            // A refresh must end: the server stops a query running longer,
            // the kernel a connection that stopped answering.
            .tcp_user_timeout(p.query_timeout)
            .options(&format!("-c statement_timeout={}", p.query_timeout.as_millis()));
        if !p.password.is_empty() {
            config.password(&p.password);
        }
        let fail =
            |e: postgres::Error| format!("cannot connect to the PostgreSQL database at {}: {}", self.target(), pg_error(&e));
        let client = match (p.sslmode, &self.tls) {
            (SslMode::Disable, _) => config.ssl_mode(postgres::config::SslMode::Disable).connect(NoTls).map_err(fail),
            (SslMode::Prefer, Err(_)) => config.ssl_mode(postgres::config::SslMode::Disable).connect(NoTls).map_err(fail),
            (SslMode::Require, Err(e)) => Err(format!("PostgreSQL at {}: sslmode = require but {e}", self.target())),
            (mode, Ok(tls)) => {
                let mode =
                    if mode == SslMode::Require { postgres::config::SslMode::Require } else { postgres::config::SslMode::Prefer };
                config.ssl_mode(mode).connect(RustlsMake(Arc::clone(tls))).map_err(fail)
            }
        }?;
        Ok(Kept { full: None, changed: None, client, relay })
    }

    /// The kept connection if it is still open (its sockets now cut with
    /// this read's), else a new one; and whether it is new.
    fn connection(&self, kept: Option<Kept>, cutter: &Arc<Cutter>) -> Result<(Kept, bool), String> {
        match kept.filter(|k| !k.client.is_closed()) {
            Some(k) => match k.relay.as_ref().map_or(Ok(()), |r| r.register(cutter)) {
                Ok(()) => Ok((k, false)),
                Err(_) => Ok((self.connect(cutter)?, true)),
            },
            None => Ok((self.connect(cutter)?, true)),
        }
    }

    /// One query on `conn`, each row handed to `each`; how many were.
    fn read(
        &self,
        conn: &mut Kept,
        since: Option<(ChangeTime, i64)>,
        each: &mut dyn FnMut(CustomerRow),
        delivered: &mut usize,
    ) -> Result<(), String> {
        let read_fail = |e: postgres::Error| format!("cannot read {} from {}: {}", self.map.table, self.target(), pg_error(&e));
        let bound = since.map(|(t, micros)| {
            let (y, mo, d, h, mi, s, us) = t.parts();
            (format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"), micros)
        });
        let Kept { full, changed, client, .. } = conn;
        let statement = match &bound {
            None => full,
            Some(_) => changed,
        };
        if statement.is_none() {
            let sql = match &bound {
                None => full_sql(&self.map, Dialect::Postgres),
                Some(_) => match changed_sql(&self.map, Dialect::Postgres) {
                    Some(sql) => sql,
                    None => return Ok(()),
                },
            };
            *statement = Some(client.prepare(&sql).map_err(read_fail)?);
        }
        let Some(statement) = statement.as_ref() else { return Ok(()) };
        let params: Vec<&(dyn ToSql + Sync)> = match &bound {
            None => Vec::new(),
            Some((t, micros)) => vec![t, micros],
        };
        let mut rows = client.query_raw(statement, params).map_err(read_fail)?;
        let mut cells: Vec<Value> = Vec::new();
        while let Some(row) = rows.next().map_err(read_fail)? {
            cells.clear();
            for i in 0..row.len() {
                // Borrowed from the row's buffer: one copy per cell, not two.
                let text: Option<&str> = row.try_get(i).ok().flatten();
                cells.push(match (i, text) {
                    // Column 9 is the valid column (see sql::select_list).
                    (9, t) => Value::Int(i64::from(t.is_some_and(valid_text))),
                    (_, Some(t)) => Value::Bytes(t.as_bytes().to_vec()),
                    (_, None) => Value::NULL,
                });
            }
            if let Some(row) = row_from_cells(&self.map, &cells) {
                *delivered += 1;
                each(row);
            }
        }
        Ok(())
    }
}

/// The server's own message when there is one (e.g. "password
/// authentication failed for user ..."), else the client's.
fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            // "error performing TLS handshake" says little: add the causes
            // (e.g. the certificate's issuer is not trusted).
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
    }
}

impl CustomerSource for PgSource {
    fn kind(&self) -> &'static str {
        "postgresql"
    }

    fn describe(&self) -> String {
        format!("{} user '{}' table {}", self.target(), self.pg.user, self.map.table)
    }

    fn incremental(&self) -> bool {
        !self.map.changed.is_empty()
    }

    /// The connection of the previous read when it is still open (see
    /// `kept`); a read that fails on it before its first row (the server
    /// restarted, or closed it idle) is tried once more on a new one, unless
    /// the read was cut. A connection that failed is never kept.
    fn fetch(
        &self,
        since: Option<(ChangeTime, i64)>,
        cutter: &Arc<Cutter>,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String> {
        let mut kept = crate::runtime::lock(&self.kept);
        let (mut conn, fresh) = self.connection(kept.take(), cutter)?;
        let mut delivered = 0;
        match self.read(&mut conn, since, each, &mut delivered) {
            Ok(()) => {
                *kept = Some(conn);
                Ok(())
            }
            Err(_) if !fresh && delivered == 0 && cutter.reason().is_none() => {
                drop(conn);
                let (mut conn, _) = self.connection(None, cutter)?;
                self.read(&mut conn, since, each, &mut delivered)?;
                *kept = Some(conn);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn secrets(&self) -> Vec<&str> {
        vec![&self.pg.password]
    }
}

// ---- TLS through rustls (tokio-postgres only defines the traits) ----

#[derive(Clone)]
struct RustlsMake(Arc<rustls::ClientConfig>);

impl<S> MakeTlsConnect<S> for RustlsMake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_string()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect { config: Arc::clone(&self.0), name })
    }
}

struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM works without it; binding would need the certificate's hash.
        ChannelBinding::none()
    }
}
