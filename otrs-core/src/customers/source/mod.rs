//! Where customers come from: the sources of otrs.conf, tried in file order.
//!
//! OTRS keeps customer users in up to eleven backends at once (`CustomerUser`,
//! `CustomerUser1` ... in Kernel/Config.pm): a table in its own database, a
//! table in another one, or LDAP / Active Directory, searched in order. Here
//! each `[customers*]` section is one [`CustomerSource`], and the `db*`
//! options of `[general]`, when given, are an implicit first MySQL source
//! named `general` (so an otrs.conf of before keeps working).
//!
//! A source only reads rows ([`CustomerSource::fetch`]); everything else —
//! the index, its refreshes, keeping the last good load while a source is
//! down — is the same for every kind and lives in `CustomerIndex`, one part
//! per source: a full reload of one source is built off to the side and
//! swapped in without touching the others' parts, and a slow source holds
//! up only its own refresh thread. A call looks the number up in each part
//! (one hash lookup each, no query); the earliest source with a match gives
//! the customer, `OTRSMATCHES` counts the matches of all of them.

pub mod cancel;
mod config;
mod ldap;
#[cfg(test)]
mod live_tests;
mod mysql;
mod postgres;
mod sql;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::db::{ChangeTime, CustomerRow};
use super::refresher::{start_refresher, Refresher};
use super::CustomerIndex;
use crate::number::NumberPlan;

pub use self::config::{
    is_source_section, sources_from_sections, LdapSettings, PgSettings, SourceConfig, SourceKind, SqlMap, SslMode,
};
pub(crate) use self::ldap::LdapSource;
pub(crate) use self::mysql::MysqlSource;
pub(crate) use self::postgres::PgSource;

/// One place customers are read from: a table (MySQL, PostgreSQL) or a
/// directory (LDAP). Implementations only read; they are driven by the
/// refresher thread of their part of the index, never by a call.
pub(crate) trait CustomerSource: Send + Sync {
    /// `mysql`, `postgresql`, `ldap`.
    fn kind(&self) -> &'static str;

    /// Where it reads from, for `otrs show status` and messages: host, port,
    /// database and table or base DN. Never a password.
    fn describe(&self) -> String;

    /// Whether it can read only what changed since a bound (a changed
    /// column / attribute is configured). If not, only full reloads run.
    fn incremental(&self) -> bool {
        true
    }

    /// Reads customer rows, handing each to `each`: every valid one (`since`
    /// None: a full reload), or every one changed at or after the bound
    /// `since` (a change time plus a signed number of microseconds, see
    /// `Cursor::since`), valid or not, so that a customer made invalid leaves
    /// the index. Every TCP connection it opens is registered with `cutter`
    /// (see [`cancel`]), which bounds the read as a whole.
    fn fetch(
        &self,
        since: Option<(ChangeTime, i64)>,
        cutter: &Arc<cancel::Cutter>,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String>;

    /// Secrets that must never reach a message (passwords).
    fn secrets(&self) -> Vec<&str>;
}

impl fmt::Debug for dyn CustomerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.describe())
    }
}

/// `message` with every secret of `source` replaced: drivers do not echo
/// passwords, but an error must never carry one, whatever they put in it.
pub(crate) fn scrub(source: &dyn CustomerSource, mut message: String) -> String {
    for secret in source.secrets() {
        if !secret.is_empty() {
            message = message.replace(secret, "<hidden>");
        }
    }
    message
}

/// The source a section describes.
pub(crate) fn open_source(config: &SourceConfig) -> Box<dyn CustomerSource> {
    match &config.kind {
        SourceKind::Mysql(db, map) => Box::new(MysqlSource::new(db.clone(), map.clone())),
        SourceKind::Postgres(pg, map) => Box::new(PgSource::new(pg.clone(), map.clone())),
        SourceKind::Ldap(ldap) => Box::new(LdapSource::new(ldap.clone())),
    }
}

/// The customer index of these sources, in this order (none loaded yet).
/// An empty list gives an index of one source that never loads; the
/// configuration refuses that case before it gets here.
pub fn build_index(sources: &[SourceConfig], plan: &NumberPlan) -> Arc<CustomerIndex> {
    let mut parts = sources.iter().map(|s| CustomerIndex::with_source(&s.name, open_source(s), plan.clone()));
    let first = parts.next().unwrap_or_else(|| CustomerIndex::with_source("none", Box::new(NoSource), plan.clone()));
    Arc::new(first.followed_by(parts.map(Arc::new).collect()))
}

/// One refresher thread per source (see [`start_refresher`]): a source that
/// is slow or down delays only its own refreshes.
pub fn start_refreshers(
    index: &Arc<CustomerIndex>,
    incremental_every: Duration,
    full_every: Duration,
    keep_warm: Duration,
) -> Vec<Refresher> {
    std::iter::once(index)
        .chain(index.later())
        .map(|part| start_refresher(Arc::clone(part), incremental_every, full_every, keep_warm))
        .collect()
}

/// Stands in when no source is configured: never loads.
struct NoSource;

impl CustomerSource for NoSource {
    fn kind(&self) -> &'static str {
        "none"
    }

    fn describe(&self) -> String {
        "no customer source configured".into()
    }

    fn fetch(&self, _: Option<(ChangeTime, i64)>, _: &Arc<cancel::Cutter>, _: &mut dyn FnMut(CustomerRow)) -> Result<(), String> {
        Err("no customer source is configured (dbuser in [general], or a [customers] section)".into())
    }

    fn secrets(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// A stable 63-bit id from text (an LDAP entry's DN, a login when a table has
/// no id column): FNV-1a, the same in every build, so the tie rule "smaller
/// id first" gives the same answer on every load.
pub(crate) fn text_id(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h >> 1
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `t` moved by `micros` (the cursor's bound, for sources that cannot add an
/// interval themselves, like an LDAP filter). `None` out of range.
pub(crate) fn shifted(t: ChangeTime, micros: i64) -> Option<ChangeTime> {
    let (y, mo, d, h, mi, s, us) = t.parts();
    let day = days_from_civil(i64::from(y), i64::from(mo), i64::from(d));
    let total = (day * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * 1_000_000 + i64::from(us);
    let total = total.checked_add(micros)?;
    let (secs, us) = (total.div_euclid(1_000_000), total.rem_euclid(1_000_000));
    let (day, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(day);
    ChangeTime::new(
        u16::try_from(y).ok()?,
        mo as u8,
        d as u8,
        (rest / 3600) as u8,
        (rest / 60 % 60) as u8,
        (rest % 60) as u8,
        us as u32,
    )
}
