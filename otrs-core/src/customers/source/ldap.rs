//! An LDAP directory or Active Directory as a customer source, as Znuny's
//! Kernel/System/CustomerUser/LDAP.pm reads one: search under `base_dn`
//! with `scope` and the admin's `filter` (its AlwaysFilter), the login from
//! `login_attribute` (CustomerKey), the company from `customer_id_attribute`
//! (CustomerID) and bind as `bind_dn` only when a password is given too
//! (`_Connect`: anonymous otherwise). Unlike Znuny, which asks the directory
//! per login, the whole set is read into memory, so:
//!
//! - pages of `page_size` entries (RFC 2696 paged results), so a directory
//!   bigger than the server's size limit (AD: 1000) loads whole; a result
//!   that still ends in "size limit exceeded" is an error, never a partial
//!   index;
//! - incremental passes read entries whose `changed_attribute`
//!   (modifyTimestamp; AD: whenChanged) is at or after the cursor's bound:
//!   those matching the filter are (re)indexed, those that no longer match
//!   (an AD account disabled, an entry moved out) are removed; deleted
//!   entries leave no trace and go at the next full reload;
//! - referrals and continuation references are not followed (an entry
//!   elsewhere is not ours to read with this bind); a search answered with a
//!   referral is an error naming it.
//!
//! Values are the directory's, possibly edited by the users themselves
//! (self-service phone numbers): control characters are dropped and each
//! value is cut to a bounded length before it reaches the index.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConn, LdapConnSettings, LdapError, Scope as LScope, SearchEntry, StdStream};

use super::cancel::{self, Cutter};

use super::config::{LdapSettings, Scope};
use super::tls::client_config;
use super::{shifted, text_id, CustomerSource};
use crate::customers::db::{ChangeTime, CustomerRow};

/// Longest text kept from one attribute value (names, login, e-mail).
const MAX_TEXT: usize = 256;
/// Longest phone value kept: enough for several numbers in one value.
const MAX_PHONE: usize = 512;
/// At most this many values per phone attribute.
const MAX_PHONE_VALUES: usize = 32;

pub(crate) struct LdapSource {
    settings: LdapSettings,
    /// Built once (the CA store is read when the configuration is
    /// installed, as for https); `Err` is reported by every refresh.
    tls: Result<Arc<rustls::ClientConfig>, String>,
}

impl std::fmt::Debug for LdapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapSource").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl LdapSource {
    pub(crate) fn new(settings: LdapSettings) -> Self {
        let uses_tls = settings.starttls || settings.url.to_ascii_lowercase().starts_with("ldaps://");
        let tls = if uses_tls { client_config(settings.tls_ca_file.as_deref()) } else { Err("no TLS".into()) };
        LdapSource { settings, tls }
    }

    /// The filter every read uses: entries with a login, within the
    /// admin's filter (Znuny: `(&$Filter$Self->{AlwaysFilter})`).
    pub(crate) fn customer_filter(&self) -> String {
        let has_login = format!("({}=*)", self.settings.login_attribute);
        if self.settings.filter.is_empty() {
            has_login
        } else {
            format!("(&{has_login}{})", self.settings.filter)
        }
    }

    fn attributes(&self) -> Vec<String> {
        let s = &self.settings;
        let mut attrs: Vec<String> = vec![s.login_attribute.clone()];
        if s.customer_id.is_none() {
            attrs.push(s.customer_id_attribute.clone());
        }
        for a in [&s.first_name_attribute, &s.last_name_attribute, &s.email_attribute, &s.changed_attribute] {
            attrs.push(a.clone());
        }
        attrs.extend(s.phone_attributes.iter().cloned());
        let mut unique: Vec<String> = Vec::new();
        for a in attrs.into_iter().filter(|a| !a.is_empty()) {
            if !unique.iter().any(|u| u.eq_ignore_ascii_case(&a)) {
                unique.push(a);
            }
        }
        unique
    }

    /// Over a TCP connection we opened and registered with `cutter`, so that
    /// a stalled read can be ended (ldap3 takes it with the URL, which
    /// still names the server for TLS).
    fn connect(&self, cutter: &Arc<Cutter>) -> Result<LdapConn, String> {
        let s = &self.settings;
        let mut settings = LdapConnSettings::new().set_conn_timeout(s.timeout).set_starttls(s.starttls);
        if let Some((host, port)) = host_port(&s.url) {
            let stream = cancel::connect(&host, port, s.timeout, cutter)
                .map_err(|e| format!("cannot connect to the LDAP server {}: {e}", s.url))?;
            settings = settings.set_std_stream(StdStream::Tcp(stream));
        }
        let uses_tls = s.starttls || s.url.to_ascii_lowercase().starts_with("ldaps://");
        if uses_tls {
            let config = self.tls.clone().map_err(|e| format!("LDAP {}: {e}", s.url))?;
            settings = settings.set_config(config);
        }
        let mut conn = LdapConn::with_settings(settings, &s.url)
            .map_err(|e| format!("cannot connect to the LDAP server {}: {}", s.url, describe_error(&e)))?;
        if !s.bind_dn.is_empty() {
            let result = conn
                .with_timeout(s.timeout)
                .simple_bind(&s.bind_dn, &s.bind_password)
                .map_err(|e| format!("LDAP bind as '{}' at {} failed: {}", s.bind_dn, s.url, describe_error(&e)))?;
            if result.rc != 0 {
                let why = if result.rc == 49 {
                    "invalid credentials (wrong bind_dn or bind_password)".to_string()
                } else {
                    result_text(result.rc, &result.text)
                };
                return Err(format!("LDAP bind as '{}' at {} refused: {why}", s.bind_dn, s.url));
            }
        }
        Ok(conn)
    }

    /// One paged search; each entry as a row, valid or not.
    fn search(&self, conn: &mut LdapConn, filter: &str, valid: bool, each: &mut dyn FnMut(CustomerRow)) -> Result<(), String> {
        let s = &self.settings;
        let scope = match s.scope {
            Scope::Base => LScope::Base,
            Scope::One => LScope::OneLevel,
            Scope::Sub => LScope::Subtree,
        };
        let attrs = self.attributes();
        let fail = |e: LdapError| format!("LDAP search under '{}' at {} failed: {}", s.base_dn, s.url, describe_error(&e));
        let adapters: Vec<Box<dyn Adapter<_, _>>> =
            vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(s.page_size as i32))];
        let mut stream =
            conn.with_timeout(s.timeout).streaming_search_with(adapters, &s.base_dn, scope, filter, attrs).map_err(fail)?;
        loop {
            let next = stream.next().map_err(fail)?;
            let Some(entry) = next else { break };
            // ldap3 panics on an entry that is not one (a broken server):
            // skip it rather than lose the whole load.
            let Ok(entry) = catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(entry))) else {
                continue;
            };
            if let Some(row) = self.row(&entry, valid) {
                each(row);
            }
        }
        let result = stream.result();
        match result.rc {
            0 => Ok(()),
            4 => Err(format!(
                "LDAP search under '{}' at {} hit the server's size limit although paged (page_size {}): \
                 the directory was not loaded, the last load stays in use; raise the limit for the bind account",
                s.base_dn, s.url, s.page_size
            )),
            10 => Err(format!(
                "LDAP search under '{}' at {} was answered with a referral ({}): referrals are not followed; set ldap_url to that server",
                s.base_dn,
                s.url,
                result.refs.join(" ")
            )),
            rc => Err(format!("LDAP search under '{}' at {} failed: {}", s.base_dn, s.url, result_text(rc, &result.text))),
        }
    }

    pub(super) fn row(&self, entry: &SearchEntry, valid: bool) -> Option<CustomerRow> {
        let s = &self.settings;
        let values = |attr: &str| -> &[String] {
            if attr.is_empty() {
                return &[];
            }
            entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attr)).map_or(&[], |(_, v)| v.as_slice())
        };
        let first = |attr: &str| values(attr).first().map(|v| clean(v, MAX_TEXT)).unwrap_or_default();
        let login = first(&s.login_attribute);
        if login.is_empty() {
            return None;
        }
        let customer_id = match &s.customer_id {
            Some(fixed) => fixed.clone(),
            None => first(&s.customer_id_attribute),
        };
        let mut phones = Vec::new();
        for attr in &s.phone_attributes {
            phones.extend(values(attr).iter().take(MAX_PHONE_VALUES).map(|v| clean(v, MAX_PHONE)));
        }
        Some(CustomerRow {
            id: text_id(&entry.dn),
            login,
            customer_id,
            first_name: first(&s.first_name_attribute),
            last_name: first(&s.last_name_attribute),
            email: first(&s.email_attribute),
            phone: String::new(),
            mobile: String::new(),
            more_phones: phones,
            change_time: values(&s.changed_attribute).first().and_then(|v| generalized_time(v)),
            valid,
        })
    }
}

impl CustomerSource for LdapSource {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    fn describe(&self) -> String {
        let s = &self.settings;
        let bind = if s.bind_dn.is_empty() { "anonymous".to_string() } else { format!("bind '{}'", s.bind_dn) };
        let tls = if s.starttls { " (StartTLS)" } else { "" };
        format!("{}{tls} base '{}' {bind}", s.url, s.base_dn)
    }

    fn incremental(&self) -> bool {
        !self.settings.changed_attribute.is_empty()
    }

    fn fetch(
        &self,
        since: Option<(ChangeTime, i64)>,
        cutter: &Arc<Cutter>,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String> {
        let mut conn = self.connect(cutter)?;
        let filter = self.customer_filter();
        let result = match since {
            None => self.search(&mut conn, &filter, true, each),
            Some((t, micros)) => {
                if self.settings.changed_attribute.is_empty() {
                    return Ok(());
                }
                // The bound in the directory's own format; one second
                // earlier at most (the time is cut to whole seconds).
                let bound = shifted(t, micros).map_or_else(|| "19700101000000Z".to_string(), format_generalized_time);
                let changed = format!("({}>={bound})", self.settings.changed_attribute);
                self.search(&mut conn, &format!("(&{filter}{changed})"), true, each)
                    .and_then(|()| self.search(&mut conn, &format!("(&(!{filter}){changed})"), false, each))
            }
        };
        let _ = conn.unbind();
        result
    }

    fn secrets(&self) -> Vec<&str> {
        vec![&self.settings.bind_password]
    }
}

/// Host and port of an `ldap://` or `ldaps://` URL (default ports 389 and
/// 636); `None` for anything else (ldapi://), left to ldap3.
fn host_port(url: &str) -> Option<(String, u16)> {
    let lower = url.to_ascii_lowercase();
    let (rest, default) = if lower.starts_with("ldaps://") {
        (&url[8..], 636)
    } else if lower.starts_with("ldap://") {
        (&url[7..], 389)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    let host = if host.is_empty() { "localhost".to_string() } else { host };
    Some((host, port))
}

/// Text fit for the index: no control characters, at most `max` characters.
fn clean(v: &str, max: usize) -> String {
    v.chars().filter(|c| !c.is_control()).take(max).collect::<String>().trim().to_string()
}

/// An LDAP result code with its name and the server's text.
fn result_text(rc: u32, text: &str) -> String {
    let name = match rc {
        1 => "operations error",
        2 => "protocol error",
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        10 => "referral",
        11 => "admin limit exceeded",
        32 => "no such object (check base_dn)",
        34 => "invalid DN syntax",
        48 => "inappropriate authentication",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        87 => "filter error (check filter)",
        _ => "error",
    };
    let text = clean(text, 200);
    if text.is_empty() {
        format!("{name} (result code {rc})")
    } else {
        format!("{name} (result code {rc}): {text}")
    }
}

fn describe_error(e: &LdapError) -> String {
    match e {
        LdapError::LdapResult { result } => result_text(result.rc, &result.text),
        LdapError::Timeout { .. } => "no answer in time".to_string(),
        other => clean(&other.to_string(), 300),
    }
}

/// modifyTimestamp / whenChanged: `YYYYMMDDHHMMSS[.f][Z]` (UTC; AD writes
/// `.0Z`). Only compared with values of the same attribute, like
/// change_time.
pub(crate) fn generalized_time(v: &str) -> Option<ChangeTime> {
    let v = v.trim();
    let digits = v.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<u16>().ok();
    let rest = &v[14..];
    let frac = rest.strip_prefix(['.', ',']).map(|r| r.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""));
    let micros = match frac {
        Some(f) if !f.is_empty() => format!("{:0<6}", &f[..f.len().min(6)]).parse().ok()?,
        _ => 0,
    };
    ChangeTime::new(n(0, 4)?, n(4, 6)? as u8, n(6, 8)? as u8, n(8, 10)? as u8, n(10, 12)? as u8, n(12, 14)? as u8, micros)
}

/// The filter form of a time, whole seconds (rounded down, so nothing at
/// the bound is missed).
pub(crate) fn format_generalized_time(t: ChangeTime) -> String {
    let (y, mo, d, h, mi, s, _) = t.parts();
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z")
}
