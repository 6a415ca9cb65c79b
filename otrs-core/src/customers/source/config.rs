//! The `[customers*]` sections of otrs.conf, and the implicit source of the
//! `db*` options in `[general]`. Column and attribute defaults are Znuny's
//! (Kernel/Config/Defaults.pm, `$Self->{CustomerUser}`: the DB backend with
//! `Table => 'customer_user'`, `CustomerKey => 'login'`,
//! `CustomerID => 'customer_id'`, `CustomerValid => 'valid_id'` and the Map's
//! first_name, last_name, email, phone, mobile; the commented LDAP example
//! with `CustomerKey => 'uid'`, `CustomerID => 'mail'`, givenname, sn, mail,
//! telephonenumber, mobile).

use std::fmt;
use std::time::Duration;

use crate::config::{ConfigError, General, Options as Opts, Section};
use crate::customers::DbSettings;

/// One customer source: a section's name and what it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// The section name (`general` for the implicit one), as shown in
    /// `otrs show status` and `otrs test lookup`.
    pub name: String,
    pub kind: SourceKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Mysql(DbSettings, SqlMap),
    Postgres(PgSettings, SqlMap),
    Ldap(LdapSettings),
}

/// Which table and columns an SQL source reads. Empty `id`, `valid` and
/// `changed` mean: no such column (a hash of the login is the id, every row
/// is valid, only full reloads run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlMap {
    pub table: String,
    pub id: String,
    pub login: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phones: Vec<String>,
    pub valid: String,
    pub changed: String,
}

impl Default for SqlMap {
    /// Znuny's customer_user (Kernel/Config/Defaults.pm, CustomerUser).
    fn default() -> Self {
        SqlMap {
            table: "customer_user".into(),
            id: "id".into(),
            login: "login".into(),
            customer_id: "customer_id".into(),
            first_name: "first_name".into(),
            last_name: "last_name".into(),
            email: "email".into(),
            phones: vec!["phone".into(), "mobile".into()],
            valid: "valid_id".into(),
            changed: "change_time".into(),
        }
    }
}

/// PostgreSQL's TLS choice, as libpq's `sslmode`: `prefer` (the default)
/// uses TLS when the server offers it, `require` refuses a server without.
/// The certificate is checked against the system CA store whenever TLS is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
}

/// Where a PostgreSQL database is.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// A host name or address, or a directory holding the server's socket
    /// (starts with `/`), as libpq takes it.
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: String,
    pub sslmode: SslMode,
    /// A PEM file of CAs trusted besides the system store.
    pub tls_ca_file: Option<String>,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
}

impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &if self.password.is_empty() { "" } else { "<hidden>" })
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Base,
    One,
    Sub,
}

/// An LDAP / Active Directory source (Znuny's CustomerUser::LDAP `Params`:
/// Host, BaseDN, SSCOPE, UserDN, UserPw, AlwaysFilter; CustomerKey,
/// CustomerID, Map).
#[derive(Clone, PartialEq, Eq)]
pub struct LdapSettings {
    pub url: String,
    pub starttls: bool,
    pub bind_dn: String,
    pub bind_password: String,
    pub base_dn: String,
    pub scope: Scope,
    /// The configured filter (AlwaysFilter), may be empty.
    pub filter: String,
    pub login_attribute: String,
    /// Attribute holding the customer id; unused when `customer_id` is set.
    pub customer_id_attribute: String,
    /// A fixed customer id for every entry of this source.
    pub customer_id: Option<String>,
    pub first_name_attribute: String,
    pub last_name_attribute: String,
    pub email_attribute: String,
    pub phone_attributes: Vec<String>,
    /// Empty: no incremental refresh.
    pub changed_attribute: String,
    pub page_size: u32,
    /// Connect and per-operation timeout.
    pub timeout: Duration,
    /// A PEM file of CAs trusted besides the system store.
    pub tls_ca_file: Option<String>,
}

impl fmt::Debug for LdapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapSettings")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &if self.bind_password.is_empty() { "" } else { "<hidden>" })
            .field("base_dn", &self.base_dn)
            .field("scope", &self.scope)
            .field("filter", &self.filter)
            .field("login_attribute", &self.login_attribute)
            .finish_non_exhaustive()
    }
}

const SQL_KEYS: &[&str] = &[
    "type",
    "dbhost",
    "dbport",
    "dbname",
    "dbuser",
    "dbpass",
    "table",
    "id_column",
    "login_column",
    "customer_id_column",
    "first_name_column",
    "last_name_column",
    "email_column",
    "phone_columns",
    "valid_column",
    "changed_column",
];
const MYSQL_KEYS: &[&str] = &["dbsock"];
const PG_KEYS: &[&str] = &["sslmode", "tls_ca_file"];
const LDAP_KEYS: &[&str] = &[
    "type",
    "ldap_url",
    "starttls",
    "bind_dn",
    "bind_password",
    "base_dn",
    "scope",
    "filter",
    "login_attribute",
    "customer_id_attribute",
    "customer_id",
    "first_name_attribute",
    "last_name_attribute",
    "email_attribute",
    "phone_attributes",
    "changed_attribute",
    "page_size",
    "timeout",
    "tls_ca_file",
];

/// Whether a section is a customer source rather than a ticket profile.
pub fn is_source_section(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("customers")
}

fn err<T>(msg: String) -> Result<T, ConfigError> {
    Err(ConfigError(msg))
}

/// A table or column name: letters, digits, `_` and `$`, not starting with
/// a digit; a table may be `schema.table`. They are written into the SQL
/// (quoted), so nothing else may get through.
pub(crate) fn is_identifier(name: &str, dotted: bool) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 64
            && !p.as_bytes()[0].is_ascii_digit()
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    if dotted {
        let parts: Vec<&str> = name.split('.').collect();
        parts.len() <= 2 && parts.iter().all(|p| part_ok(p))
    } else {
        part_ok(name)
    }
}

/// An LDAP attribute description: a name (letters, digits, `-`) or an OID.
pub(crate) fn is_attribute(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && ((b[0].is_ascii_alphabetic() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'))
            || (b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')))
}

/// A filter as the admin wrote it: parenthesised, balanced, no control
/// characters. The server checks the rest (a bad one fails the first load
/// with the server's own message).
fn filter_ok(f: &str) -> bool {
    if f.is_empty() {
        return true;
    }
    let mut depth = 0i32;
    let mut escaped = false;
    for c in f.chars() {
        if c.is_control() {
            return false;
        }
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && f.starts_with('(') && f.ends_with(')')
}

fn list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect()
}

const SQL_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const SQL_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

fn sql_map(o: &Opts) -> Result<SqlMap, ConfigError> {
    let d = SqlMap::default();
    let table = o.string("table", &d.table);
    if !is_identifier(&table, true) {
        return o.invalid("table", &table, "expected a table name (letters, digits, _; schema.table allowed)");
    }
    let mut map = SqlMap { table, ..d.clone() };
    for (key, field, default, may_be_empty) in [
        ("id_column", &mut map.id, &d.id, true),
        ("login_column", &mut map.login, &d.login, false),
        ("customer_id_column", &mut map.customer_id, &d.customer_id, true),
        ("first_name_column", &mut map.first_name, &d.first_name, true),
        ("last_name_column", &mut map.last_name, &d.last_name, true),
        ("email_column", &mut map.email, &d.email, true),
        ("valid_column", &mut map.valid, &d.valid, true),
        ("changed_column", &mut map.changed, &d.changed, true),
    ] {
        let v = if may_be_empty { o.string_or_empty(key, default) } else { o.string(key, default) };
        if !(is_identifier(&v, false) || v.is_empty() && may_be_empty) {
            return o.invalid(key, &v, "expected a column name (letters, digits, _)");
        }
        *field = v;
    }
    let phones = o.get("phone_columns").map_or_else(|| d.phones.clone(), list);
    if phones.is_empty() {
        return o.invalid("phone_columns", "", "expected at least one column");
    }
    if let Some(bad) = phones.iter().find(|p| !is_identifier(p, false)) {
        return o.invalid("phone_columns", bad, "expected column names (letters, digits, _) separated by commas");
    }
    map.phones = phones;
    Ok(map)
}

fn mysql_source(o: &Opts) -> Result<SourceKind, ConfigError> {
    let db = DbSettings {
        host: o.string("dbhost", "localhost"),
        port: o.number("dbport", 3306, 1, 65535)?,
        name: o.string("dbname", "otrs"),
        user: o.required("dbuser")?.to_string(),
        password: o.string("dbpass", ""),
        socket: o.get("dbsock").filter(|v| !v.is_empty()).map(str::to_string),
        connect_timeout: SQL_CONNECT_TIMEOUT,
        query_timeout: SQL_QUERY_TIMEOUT,
    };
    Ok(SourceKind::Mysql(db, sql_map(o)?))
}

fn pg_source(o: &Opts) -> Result<SourceKind, ConfigError> {
    let sslmode = match o.string("sslmode", "prefer").to_ascii_lowercase().as_str() {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        other => return o.invalid("sslmode", other, "expected disable, prefer or require"),
    };
    let pg = PgSettings {
        host: o.string("dbhost", "localhost"),
        port: o.number("dbport", 5432, 1, 65535)?,
        name: o.string("dbname", "otrs"),
        user: o.required("dbuser")?.to_string(),
        password: o.string("dbpass", ""),
        sslmode,
        tls_ca_file: o.get("tls_ca_file").filter(|v| !v.is_empty()).map(str::to_string),
        connect_timeout: SQL_CONNECT_TIMEOUT,
        query_timeout: SQL_QUERY_TIMEOUT,
    };
    Ok(SourceKind::Postgres(pg, sql_map(o)?))
}

fn ldap_source(o: &Opts) -> Result<SourceKind, ConfigError> {
    let url = o.required("ldap_url")?.to_string();
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://"))
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return o.invalid("ldap_url", &url, "expected ldap://host[:port] or ldaps://host[:port]");
    }
    let starttls = o.boolean("starttls", false)?;
    if starttls && lower.starts_with("ldaps://") {
        return o.invalid("starttls", "yes", "ldaps:// is TLS already; starttls is for ldap:// URLs");
    }
    let bind_dn = o.string("bind_dn", "");
    let bind_password = o.get("bind_password").unwrap_or("").to_string();
    // Znuny binds anonymously unless both are given (CustomerUser/LDAP.pm,
    // _Connect); one without the other is a mistake worth saying.
    if bind_dn.is_empty() != bind_password.is_empty() {
        let missing = if bind_dn.is_empty() { "bind_dn" } else { "bind_password" };
        return err(format!(
            "missing option '{missing}' in [{}] of otrs.conf: give both bind_dn and bind_password, or neither for an anonymous bind",
            o.section.name
        ));
    }
    let scope = match o.string("scope", "sub").to_ascii_lowercase().as_str() {
        "sub" => Scope::Sub,
        "one" => Scope::One,
        "base" => Scope::Base,
        other => return o.invalid("scope", other, "expected sub, one or base"),
    };
    let filter = o.string("filter", "");
    if !filter_ok(&filter) {
        return o.invalid("filter", &filter, "expected an LDAP filter in parentheses, e.g. (objectClass=inetOrgPerson)");
    }
    let attr = |key: &str, default: &str, may_be_empty: bool| -> Result<String, ConfigError> {
        let v = if may_be_empty { o.string_or_empty(key, default) } else { o.string(key, default) };
        if (v.is_empty() && may_be_empty) || is_attribute(&v) {
            Ok(v)
        } else {
            o.invalid(key, &v, "expected an attribute name")
        }
    };
    let phone_attributes = o.get("phone_attributes").map_or_else(|| vec!["telephoneNumber".into(), "mobile".into()], list);
    if phone_attributes.is_empty() {
        return o.invalid("phone_attributes", "", "expected at least one attribute");
    }
    if let Some(bad) = phone_attributes.iter().find(|p| !is_attribute(p)) {
        return o.invalid("phone_attributes", bad, "expected attribute names separated by commas");
    }
    let customer_id = o.get("customer_id").filter(|v| !v.is_empty()).map(str::to_string);
    if customer_id.as_deref().is_some_and(|v| v.chars().any(char::is_control)) {
        return o.invalid("customer_id", "", "control characters");
    }
    Ok(SourceKind::Ldap(LdapSettings {
        url,
        starttls,
        bind_dn,
        bind_password,
        base_dn: o.required("base_dn")?.to_string(),
        scope,
        filter,
        login_attribute: attr("login_attribute", "uid", false)?,
        customer_id_attribute: attr("customer_id_attribute", "mail", true)?,
        customer_id,
        first_name_attribute: attr("first_name_attribute", "givenName", true)?,
        last_name_attribute: attr("last_name_attribute", "sn", true)?,
        email_attribute: attr("email_attribute", "mail", true)?,
        phone_attributes,
        changed_attribute: attr("changed_attribute", "modifyTimestamp", true)?,
        page_size: o.number("page_size", 500, 1, 100_000)?,
        timeout: Duration::from_secs(o.number("timeout", 10, 1, 300)?),
        tls_ca_file: o.get("tls_ca_file").filter(|v| !v.is_empty()).map(str::to_string),
    }))
}

/// The customer sources of otrs.conf in file order: the `db*` options of
/// `[general]` first when `dbuser` is given there (as before sources
/// existed), then each `[customers*]` section. Warnings name unknown options.
pub fn sources_from_sections(general: &General, sections: &[Section]) -> Result<(Vec<SourceConfig>, Vec<String>), ConfigError> {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    if !general.dbuser.is_empty() {
        let db = DbSettings {
            host: general.dbhost.clone(),
            port: general.dbport,
            name: general.dbname.clone(),
            user: general.dbuser.clone(),
            password: general.dbpass.clone(),
            socket: general.dbsock.clone(),
            connect_timeout: SQL_CONNECT_TIMEOUT,
            query_timeout: SQL_QUERY_TIMEOUT,
        };
        sources.push(SourceConfig { name: "general".into(), kind: SourceKind::Mysql(db, SqlMap::default()) });
    }
    for s in sections.iter().filter(|s| is_source_section(&s.name)) {
        let o = Opts::new(s);
        let name = s.name.to_ascii_lowercase();
        if sources.iter().any(|x: &SourceConfig| x.name == name) {
            return err(format!("customer source [{}] appears twice in otrs.conf", s.name));
        }
        let kind = match o.required("type")?.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => {
                warnings.extend(o.unknown(&[SQL_KEYS, MYSQL_KEYS]));
                mysql_source(&o)?
            }
            "postgresql" | "postgres" | "pgsql" => {
                warnings.extend(o.unknown(&[SQL_KEYS, PG_KEYS]));
                pg_source(&o)?
            }
            "ldap" => {
                warnings.extend(o.unknown(&[LDAP_KEYS]));
                ldap_source(&o)?
            }
            other => return o.invalid("type", other, "expected mysql, postgresql or ldap"),
        };
        sources.push(SourceConfig { name, kind });
    }
    if sources.is_empty() {
        return err("missing required option 'dbuser' in [general] of otrs.conf: the customers are read from OTRS's \
                    database with it (or add a [customers] section naming another source)"
            .into());
    }
    Ok((sources, warnings))
}
