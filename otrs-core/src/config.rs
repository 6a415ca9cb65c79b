//! `otrs.conf`: the model of the configuration and its validation. Parsing
//! the file is Asterisk's job (config API); this takes its sections as plain
//! name/value lists, so every rule here is tested without Asterisk.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::agents::Agents;
use crate::ignore::IgnoreList;
use crate::number::NumberPlan;
use crate::template;

mod options;
pub(crate) use options::Options;

/// One `[section]` of the file, entries in file order.
#[derive(Clone, Debug, Default)]
pub struct Section {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

/// Placeholders a title, subject or body template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "caller",
    "caller_name",
    "customer",
    "customer_name",
    "customer_user",
    "customer_id",
    "customer_email",
    "matches",
    "channel",
    "uniqueid",
    "linkedid",
    "exten",
    "context",
    "time",
    "date",
    "profile",
];

/// Extra placeholders once the ticket exists: for `display` and `agent_url`.
pub const TICKET_PLACEHOLDERS: &[&str] = &["ticket_id", "ticket_number", "status"];

pub const DEFAULT_DISPLAY: &str = "${caller_name} #${ticket_number}";

pub const DEFAULT_TITLE: &str = "Call from ${caller_name} (${caller})";
pub const DEFAULT_SUBJECT: &str = "Phone call from ${caller}";
pub const DEFAULT_BODY: &str = "Incoming call from ${caller} at ${time}.\\n\
Customer: ${customer}.\\n\
Dialled: ${exten}@${context}, channel ${channel}, call ${uniqueid}.";

#[derive(Clone, PartialEq)]
pub struct General {
    pub url: String,
    pub user: String,
    pub password: String,
    pub timeout: Duration,
    pub use_session: bool,
    /// SOAP namespace (and SOAPAction prefix) of the web service; `None`
    /// (`auto`): learnt from the server's first reply (Znuny/OTRS or OTOBO).
    pub soap_namespace: Option<String>,
    pub dbhost: String,
    pub dbport: u16,
    pub dbname: String,
    pub dbuser: String,
    pub dbpass: String,
    pub dbsock: Option<String>,
    pub plan: NumberPlan,
    pub unknown_customer: String,
    /// How often changed customers are picked up from the database.
    pub refresh_interval: Duration,
    /// How often the whole customer index is rebuilt (catches deletions).
    pub full_refresh_interval: Duration,
    /// How often a large customer index's pages are read between refreshes
    /// so that none goes cold (zero: never); see `CustomerIndex::keep_warm`.
    pub index_keep_warm: Duration,
    /// Append `[call:<pbx>-<uniqueid>]` to ticket titles, so a retry can find a
    /// ticket an unanswered attempt created (no duplicates).
    pub title_call_id: bool,
    /// A ticket dynamic field (text) that carries the call key: TicketCreate
    /// sets it, the recheck searches it; unlike the title, OTRS neither cuts
    /// it nor do agents edit it by accident. GenericInterface only.
    pub call_id_field: Option<String>,
    /// Where queued tickets wait; None = Asterisk's spool directory + "/otrs".
    pub spool_dir: Option<String>,
    /// First wait before the spool is retried; doubles up to `max_retry_interval`.
    pub retry_interval: Duration,
    pub max_retry_interval: Duration,
    /// How long a ticket whose request may have reached OTRS waits before
    /// the worker looks for it and creates it again: OTRS may still be
    /// working on the first request.
    pub recheck_delay: Duration,
    /// Template of the agent's ticket URL (OTRSTICKETURL, AMI event).
    pub agent_url: Option<String>,
    /// Which OTRS interface `url` points at.
    pub api: Api,
    /// Publish a VarSet event (AMI/ARI) for each OTRS* variable set, as
    /// Set() does. Off by default: eleven of them per call cost Asterisk more
    /// CPU than the rest of the call's ticket work, and the OTRSTicket AMI
    /// event carries the same values.
    pub varset_events: bool,
    /// Callers that never get a ticket, whatever the profile.
    pub ignore_numbers: IgnoreList,
    /// The agent who answered becomes the ticket's Responsible too.
    pub set_responsible: bool,
    /// Recordings and voicemails larger than this are not sent (the
    /// article says so): Znuny fails on files its database cannot take.
    pub max_attachment_size: u64,
    /// A queued outcome's file is copied into the spool (else referenced).
    pub spool_copy: bool,
    /// The recording is removed once it is on the ticket.
    pub delete_after_upload: bool,
    /// How long OTRSCallEnd() waits for MixMonitor to close its file.
    pub recording_wait: Duration,
}

/// Default `max_attachment_size`: below what Znuny stores (60 MB in the
/// samples; 70 MB makes it fail after creating the article).
pub const DEFAULT_MAX_ATTACHMENT: u64 = 50_000_000;
/// The most `max_attachment_size` may be: base64 makes 60 MB 80 MB of
/// request, below the web server's 100 MB limit (HTTP 413).
pub const MAX_ATTACHMENT_LIMIT: u64 = 60_000_000;

/// `50M`, `500K`, `1000`: bytes, K and M in thousands and millions.
fn byte_size(o: &Options, key: &str, default: u64, max: u64) -> Result<u64, ConfigError> {
    let Some(v) = o.get(key).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let t = v.trim_end_matches(['B', 'b']).trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, 'M' | 'm')) => (&t[..i], 1_000_000),
        Some((i, 'K' | 'k')) => (&t[..i], 1_000),
        _ => (t, 1),
    };
    match num.trim().parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(n) if n >= 1 && n <= max => Ok(n),
        _ => err(format!(
            "invalid value '{v}' for option '{key}' in [{}] of otrs.conf: expected a size such as 50M or 500K, at most {}M",
            o.section.name,
            max / 1_000_000
        )),
    }
}

/// `api = generic` (GenericInterface ticket connector, the default) or
/// `api = rpc` (the legacy rpc.pl of OTRS 5 and older setups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Generic,
    Rpc,
    /// `GenericTicketConnectorREST` (JSON over the same connector).
    Rest,
}

impl fmt::Debug for General {
    // By hand: the passwords must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("General")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"********")
            .field("timeout", &self.timeout)
            .field("dbhost", &self.dbhost)
            .field("dbport", &self.dbport)
            .field("dbname", &self.dbname)
            .field("dbuser", &self.dbuser)
            .field("dbpass", &"********")
            .field("dbsock", &self.dbsock)
            .field("plan", &self.plan)
            .field("unknown_customer", &self.unknown_customer)
            .field("spool_dir", &self.spool_dir)
            .finish()
    }
}

/// A ticket profile: a `[section]` other than `[general]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub name: String,
    pub queue: String,
    pub state: String,
    pub priority: String,
    pub ticket_type: Option<String>,
    pub title: String,
    pub subject: String,
    pub body: String,
    /// Minutes during which another call of the same customer (or number)
    /// is added to its open ticket instead of creating one; 0 = off.
    pub repeat_window: Duration,
    /// Caller name shown on the operator's phone with option `n`.
    pub display: String,
    /// OTRSCallEnd(): state and priority a missed call's ticket gets.
    pub missed_state: Option<String>,
    pub missed_priority: Option<String>,
    /// OTRSCallEnd(): account the talk minutes as the article's TimeUnit.
    pub time_units: bool,
    /// Callers that get no ticket with this profile (besides [general]'s).
    pub ignore_numbers: IgnoreList,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub general: General,
    pub profiles: BTreeMap<String, Profile>,
    /// `[agents]`: the OTRS agent of each phone.
    pub agents: Agents,
    /// Where customers are read from, in order: the `db*` options of
    /// `[general]` (when `dbuser` is set), then each `[customers*]` section.
    pub customers: Vec<crate::customers::SourceConfig>,
}

impl Config {
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        let name = if name.is_empty() { "default" } else { name };
        self.profiles.get(&name.to_ascii_lowercase())
    }

    /// The `ignore_numbers` rule (of [general], else of the profile) that
    /// `raw` matches, as written.
    pub fn ignored<'a>(&'a self, profile: &'a Profile, raw: &str) -> Option<&'a str> {
        let plan = &self.general.plan;
        self.general.ignore_numbers.matching(raw, plan).or_else(|| profile.ignore_numbers.matching(raw, plan))
    }
}

/// Why a configuration was refused: always names the option and section.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

const GENERAL_KEYS: &[&str] = &[
    "url",
    "user",
    "password",
    "timeout",
    "use_session",
    "soap_namespace",
    "dbhost",
    "dbport",
    "dbname",
    "dbuser",
    "dbpass",
    "dbsock",
    "country_code",
    "national_prefix",
    "international_prefix",
    "national_number_length",
    "unknown_customer",
    "refresh_interval",
    "full_refresh_interval",
    "index_keep_warm",
    "title_call_id",
    "call_id_field",
    "spool_dir",
    "retry_interval",
    "max_retry_interval",
    "recheck_delay",
    "agent_url",
    "api",
    "varset_events",
    "ignore_numbers",
    "set_responsible",
    "max_attachment_size",
    "spool_copy",
    "delete_after_upload",
    "recording_wait",
];

const PROFILE_KEYS: &[&str] = &[
    "queue",
    "state",
    "priority",
    "type",
    "title",
    "subject",
    "body",
    "repeat_window",
    "display",
    "missed_state",
    "missed_priority",
    "time_units",
    "ignore_numbers",
];

/// A template that may also use the ticket's id and number.
fn handoff_template(o: &Options, key: &str) -> Result<Option<String>, ConfigError> {
    let Some(t) = o.get(key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let known: Vec<&str> = PLACEHOLDERS.iter().chain(TICKET_PLACEHOLDERS).copied().collect();
    if let Some(name) = template::unknown_placeholders(t, &known).first() {
        return err(format!(
            "unknown placeholder '${{{name}}}' in option '{key}' of [{}] in otrs.conf; known: {}",
            o.section.name,
            known.join(", ")
        ));
    }
    Ok(Some(t.to_string()))
}

fn digits_only(key: &str, v: &str) -> Result<String, ConfigError> {
    if v.chars().all(|c| c.is_ascii_digit()) && v.len() <= 6 {
        Ok(v.to_string())
    } else {
        err(format!("invalid value '{v}' for option '{key}' in [general] of otrs.conf: expected up to 6 digits"))
    }
}

fn parse_general(s: &Section) -> Result<General, ConfigError> {
    let o = Options::new(s);
    let url = o.required("url")?.to_string();
    check_url(&url)?;
    let timeout_ms: u64 = o.number("timeout", 3000, 100, 60_000)?;
    let country_code = digits_only("country_code", &o.string("country_code", ""))?;
    let national_prefix = digits_only("national_prefix", &o.string("national_prefix", "0"))?;
    let mut international_prefixes = Vec::new();
    for p in o.string("international_prefix", "00").split(',') {
        let p = p.trim();
        if !p.is_empty() {
            international_prefixes.push(digits_only("international_prefix", p)?);
        }
    }
    let nnl: usize = o.number("national_number_length", 0, 0, 15)?;
    let plan =
        NumberPlan { country_code, national_prefix, international_prefixes, national_number_length: (nnl > 0).then_some(nnl) };
    let ignore_numbers = ignore_list(&o, &plan)?;
    let unknown_customer = o.required("unknown_customer")?.to_string();
    if unknown_customer.chars().any(char::is_control) {
        return err("invalid value for option 'unknown_customer' in [general] of otrs.conf: control characters");
    }
    Ok(General {
        url,
        user: o.required("user")?.to_string(),
        password: o.required("password")?.to_string(),
        timeout: Duration::from_millis(timeout_ms),
        use_session: o.boolean("use_session", true)?,
        soap_namespace: match o.string("soap_namespace", "auto").trim() {
            "" | "auto" => None,
            ns if ns.contains(['"', '\'', '<', '>', '&']) || ns.chars().any(|c| c.is_control() || c.is_whitespace()) => {
                return err(format!("invalid value '{ns}' for option 'soap_namespace' in [general] of otrs.conf: a URI such as http://www.otobo.org/TicketConnector/, or auto"))
            }
            ns => Some(ns.to_string()),
        },
        dbhost: o.string("dbhost", "localhost"),
        dbport: o.number("dbport", 3306, 1, 65535)?,
        dbname: o.string("dbname", "otrs"),
        // Required unless a [customers*] section names a source (checked
        // with the sections, see customers::source).
        dbuser: o.string("dbuser", ""),
        dbpass: o.string("dbpass", ""),
        dbsock: o.get("dbsock").filter(|v| !v.is_empty()).map(str::to_string),
        plan,
        unknown_customer,
        refresh_interval: Duration::from_secs(o.number("refresh_interval", 15, 1, 3600)?),
        full_refresh_interval: Duration::from_secs(o.number("full_refresh_interval", 600, 10, 86_400)?),
        index_keep_warm: Duration::from_millis(o.number("index_keep_warm", 20, 0, 10_000)?),
        title_call_id: o.boolean("title_call_id", true)?,
        call_id_field: match o.get("call_id_field").filter(|v| !v.is_empty()) {
            // Znuny's dynamic field names: letters and digits only
            Some(v) if v.bytes().all(|b| b.is_ascii_alphanumeric()) && v.len() <= 200 => Some(v.to_string()),
            Some(v) => {
                return err(format!(
                    "invalid value '{v}' for option 'call_id_field' in [general] of otrs.conf: a dynamic field name (letters and digits)"
                ))
            }
            None => None,
        },
        spool_dir: o.get("spool_dir").filter(|v| !v.is_empty()).map(str::to_string),
        retry_interval: Duration::from_secs(o.number("retry_interval", 10, 1, 3600)?),
        max_retry_interval: Duration::from_secs(o.number("max_retry_interval", 300, 1, 86_400)?),
        recheck_delay: Duration::from_secs(o.number("recheck_delay", 30, 1, 3600)?),
        agent_url: handoff_template(&o, "agent_url")?,
        varset_events: o.boolean("varset_events", false)?,
        ignore_numbers,
        set_responsible: o.boolean("set_responsible", false)?,
        max_attachment_size: byte_size(&o, "max_attachment_size", DEFAULT_MAX_ATTACHMENT, MAX_ATTACHMENT_LIMIT)?,
        spool_copy: o.boolean("spool_copy", false)?,
        delete_after_upload: o.boolean("delete_after_upload", false)?,
        recording_wait: Duration::from_secs(o.number("recording_wait", 30, 1, 600)?),
        api: match o.string("api", "generic").to_ascii_lowercase().as_str() {
            "generic" => Api::Generic,
            "rpc" => Api::Rpc,
            "rest" => Api::Rest,
            other => {
                return err(format!(
                    "invalid value '{other}' for option 'api' in [general] of otrs.conf: expected generic, rest or rpc"
                ))
            }
        },
    })
}

/// The clients' rule (see [`crate::otrs::check_url`]): a CR/LF in a URL
/// would let the config inject HTTP headers, and a URL without a host
/// would only fail at the first call.
fn check_url(url: &str) -> Result<(), ConfigError> {
    crate::otrs::check_url(url).map_err(|why| {
        ConfigError(format!(
            "invalid value '{}' for option 'url' in [general] of otrs.conf: {why}; expected http(s)://host/otrs/nph-genericinterface.pl/Webservice/NAME",
            crate::otrs::redact_url(url)
        ))
    })
}

fn ignore_list(o: &Options, plan: &NumberPlan) -> Result<IgnoreList, ConfigError> {
    IgnoreList::parse(o.get("ignore_numbers").unwrap_or(""), plan).map_err(|e| {
        ConfigError(format!(
            "invalid value {e} in option 'ignore_numbers' of [{}] in otrs.conf; expected numbers, ranges (4500-4599), prefixes (+7495*) or 'anonymous', separated by commas",
            o.section.name
        ))
    })
}

fn parse_profile(s: &Section, plan: &NumberPlan) -> Result<Profile, ConfigError> {
    let o = Options::new(s);
    let p = Profile {
        name: s.name.to_ascii_lowercase(),
        queue: o.required("queue")?.to_string(),
        state: o.string("state", "new"),
        priority: o.string("priority", "3 normal"),
        ticket_type: o.get("type").filter(|v| !v.is_empty()).map(str::to_string),
        title: o.string("title", DEFAULT_TITLE),
        subject: o.string("subject", DEFAULT_SUBJECT),
        body: o.string("body", DEFAULT_BODY),
        repeat_window: Duration::from_secs(60 * o.number("repeat_window", 0u64, 0, 10_080)?),
        display: handoff_template(&o, "display")?.unwrap_or_else(|| DEFAULT_DISPLAY.to_string()),
        missed_state: o.get("missed_state").filter(|v| !v.is_empty()).map(str::to_string),
        missed_priority: o.get("missed_priority").filter(|v| !v.is_empty()).map(str::to_string),
        time_units: o.boolean("time_units", false)?,
        ignore_numbers: ignore_list(&o, plan)?,
    };
    for (key, tpl) in [("title", &p.title), ("subject", &p.subject), ("body", &p.body)] {
        let unknown = template::unknown_placeholders(tpl, PLACEHOLDERS);
        if let Some(name) = unknown.first() {
            return err(format!(
                "unknown placeholder '${{{name}}}' in option '{key}' of [{}] in otrs.conf; known: {}",
                s.name,
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(p)
}

/// Builds the configuration; the `Vec<String>` holds warnings (unknown
/// options) to log. Errors name the option and the section.
pub fn from_sections(sections: &[Section]) -> Result<(Config, Vec<String>), ConfigError> {
    let mut warnings = Vec::new();
    let Some(general) = sections.iter().find(|s| s.name.eq_ignore_ascii_case("general")) else {
        return err("otrs.conf has no [general] section (it needs at least url, user, password, dbuser, unknown_customer)");
    };
    let repeated = sections.iter().filter(|s| s.name.eq_ignore_ascii_case("general")).count();
    if repeated > 1 {
        warnings.push(format!(
            "section [general] appears {repeated} times in otrs.conf: only the first is used, the others are ignored"
        ));
    }
    warnings.extend(Options::new(general).unknown(&[GENERAL_KEYS]));
    let general = parse_general(general)?;
    let (customers, source_warnings) = crate::customers::source::sources_from_sections(&general, sections)?;
    warnings.extend(source_warnings);
    let mut profiles = BTreeMap::new();
    let mut agents = Agents::default();
    if let Some(s) = sections.iter().find(|s| s.name.eq_ignore_ascii_case("agents")) {
        agents = Agents::from_entries(&s.entries)
            .map_err(|why| ConfigError(format!("invalid entry {why} in [agents] of otrs.conf")))?;
    }
    let special = |s: &&Section| {
        s.name.eq_ignore_ascii_case("general")
            || s.name.eq_ignore_ascii_case("agents")
            || crate::customers::source::is_source_section(&s.name)
    };
    for s in sections.iter().filter(|s| !special(s)) {
        warnings.extend(Options::new(s).unknown(&[PROFILE_KEYS]));
        let p = parse_profile(s, &general.plan)?;
        if profiles.insert(p.name.clone(), p).is_some() {
            return err(format!("profile [{}] appears twice in otrs.conf", s.name));
        }
    }
    if general.api == Api::Rpc {
        for p in profiles.values().filter(|p| !p.repeat_window.is_zero()) {
            warnings.push(format!(
                "repeat_window in [{}] needs api = generic (rpc.pl cannot search or update tickets): ignored",
                p.name
            ));
        }
    }
    if !profiles.contains_key("default") {
        return err("otrs.conf has no [default] section: the ticket profile used when OTRSTicket() names none (it needs at least 'queue')");
    }
    Ok((Config { general, profiles, agents, customers }, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, entries: &[(&str, &str)]) -> Section {
        Section { name: name.into(), entries: entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn a_repeated_general_section_is_a_warning_naming_it() {
        let second = section("general", &[("timeout", "100")]);
        let (c, warnings) = from_sections(&[general(), second, section("default", &[("queue", "Raw")])]).unwrap();
        assert!(warnings.iter().any(|w| w.starts_with("section [general] appears 2 times")), "{warnings:?}");
        assert_ne!(c.general.timeout.as_millis(), 100, "the first one is used");
    }

    fn general() -> Section {
        section(
            "general",
            &[
                ("url", "http://127.0.0.1:8089/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
                ("user", "soapagent"),
                ("password", "Secret-pw-1"),
                ("dbuser", "otrs"),
                ("dbpass", "Db-secret-2"),
                ("country_code", "7"),
                ("national_prefix", "8"),
                ("international_prefix", "00, 810"),
                ("unknown_customer", "unknown"),
            ],
        )
    }

    fn default_profile() -> Section {
        section("default", &[("queue", "Raw")])
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let (c, warnings) = from_sections(&[general(), default_profile()]).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(c.general.timeout, Duration::from_millis(3000));
        assert_eq!(c.general.dbport, 3306);
        assert_eq!(c.general.plan.international_prefixes, vec!["00", "810"]);
        let p = c.profile("").unwrap();
        assert_eq!((p.queue.as_str(), p.state.as_str(), p.priority.as_str()), ("Raw", "new", "3 normal"));
        assert_eq!(p.ticket_type, None);
        assert!(c.profile("DEFAULT").is_some());
        assert!(c.profile("nosuch").is_none());
    }

    #[test]
    fn varset_events_is_off_unless_asked() {
        let (c, _) = from_sections(&[general(), default_profile()]).unwrap();
        assert!(!c.general.varset_events);
        let mut g = general();
        g.entries.push(("varset_events".into(), "yes".into()));
        let (c, warnings) = from_sections(&[g, default_profile()]).unwrap();
        assert!(c.general.varset_events && warnings.is_empty(), "{warnings:?}");
        let mut g = general();
        g.entries.push(("varset_events".into(), "sometimes".into()));
        let e = from_sections(&[g, default_profile()]).unwrap_err();
        assert!(e.0.contains("'varset_events'"), "{e}");
    }

    #[test]
    fn missing_url_names_the_option() {
        let mut g = general();
        g.entries.retain(|(k, _)| k != "url");
        let e = from_sections(&[g, default_profile()]).unwrap_err();
        assert!(e.0.contains("'url'") && e.0.contains("[general]"), "{e}");
    }

    #[test]
    fn each_required_option_is_checked() {
        for key in ["url", "user", "password", "dbuser", "unknown_customer"] {
            let mut g = general();
            g.entries.retain(|(k, _)| k != key);
            let e = from_sections(&[g, default_profile()]).unwrap_err();
            assert!(e.0.contains(&format!("'{key}'")), "{key}: {e}");
        }
    }

    #[test]
    fn no_default_profile_is_refused() {
        let e = from_sections(&[general(), section("sales", &[("queue", "Sales")])]).unwrap_err();
        assert!(e.0.contains("[default]"), "{e}");
    }

    #[test]
    fn profile_without_queue_is_refused() {
        let e = from_sections(&[general(), section("default", &[("state", "new")])]).unwrap_err();
        assert!(e.0.contains("'queue'") && e.0.contains("[default]"), "{e}");
    }

    #[test]
    fn bad_numbers_and_urls_are_refused() {
        for (key, value) in [
            ("timeout", "abc"),
            ("timeout", "0"),
            ("timeout", "999999"),
            ("dbport", "70000"),
            ("country_code", "+7"),
            ("url", "ftp://x/"),
            ("url", "http://x/\r\nX-Evil: 1"),
            ("url", "http:///otrs/rpc.pl"),
            ("use_session", "maybe"),
        ] {
            let mut g = general();
            g.entries.push((key.into(), value.into()));
            let e = from_sections(&[g, default_profile()]).unwrap_err();
            assert!(e.0.contains(&format!("'{key}'")), "{key}={value}: {e}");
        }
    }

    #[test]
    fn later_value_wins_and_unknown_options_warn() {
        let mut g = general();
        g.entries.push(("timeout".into(), "1500".into()));
        g.entries.push(("colour".into(), "blue".into()));
        let (c, warnings) = from_sections(&[g, default_profile()]).unwrap();
        assert_eq!(c.general.timeout, Duration::from_millis(1500));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("colour"));
    }

    #[test]
    fn unknown_placeholder_is_refused() {
        let p = section("default", &[("queue", "Raw"), ("title", "Call from ${calller}")]);
        let e = from_sections(&[general(), p]).unwrap_err();
        assert!(e.0.contains("calller") && e.0.contains("'title'"), "{e}");
    }

    #[test]
    fn default_templates_use_known_placeholders() {
        for t in [DEFAULT_TITLE, DEFAULT_SUBJECT, DEFAULT_BODY] {
            assert!(template::unknown_placeholders(t, PLACEHOLDERS).is_empty(), "{t}");
        }
    }

    #[test]
    fn debug_masks_passwords() {
        let (c, _) = from_sections(&[general(), default_profile()]).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("Secret-pw-1") && !s.contains("Db-secret-2"), "{s}");
    }

    #[test]
    fn ignore_numbers_in_general_and_in_profiles() {
        let mut g = general();
        g.entries.push(("ignore_numbers".into(), "4500-4599, anonymous".into()));
        let p = section("sales", &[("queue", "Sales"), ("ignore_numbers", "+7495*")]);
        let (c, warnings) = from_sections(&[g, default_profile(), p]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (default, sales) = (c.profile("default").unwrap(), c.profile("sales").unwrap());
        assert_eq!(c.ignored(default, "4507"), Some("4500-4599"));
        assert_eq!(c.ignored(sales, ""), Some("anonymous"));
        assert_eq!(c.ignored(sales, "8 495 111-00-00"), Some("+7495*"));
        assert_eq!(c.ignored(default, "8 495 111-00-00"), None);
        let p = section("default", &[("queue", "Raw"), ("ignore_numbers", "4599-4500")]);
        let e = from_sections(&[general(), p]).unwrap_err();
        assert!(e.0.contains("'ignore_numbers'") && e.0.contains("[default]") && e.0.contains("4599-4500"), "{e}");
    }

    #[test]
    fn attachment_sizes() {
        let (c, _) = from_sections(&[general(), default_profile()]).unwrap();
        assert_eq!(
            (c.general.max_attachment_size, c.general.spool_copy, c.general.delete_after_upload),
            (50_000_000, false, false)
        );
        for (v, want) in [("20M", 20_000_000), ("500K", 500_000), ("1000", 1000), ("60MB", 60_000_000)] {
            let mut g = general();
            g.entries.push(("max_attachment_size".into(), v.into()));
            assert_eq!(from_sections(&[g, default_profile()]).unwrap().0.general.max_attachment_size, want, "{v}");
        }
        for v in ["70M", "0", "big", "-1M"] {
            let mut g = general();
            g.entries.push(("max_attachment_size".into(), v.into()));
            let e = from_sections(&[g, default_profile()]).unwrap_err();
            assert!(e.0.contains("'max_attachment_size'"), "{v}: {e}");
        }
    }

    #[test]
    fn agents_section_is_not_a_profile() {
        let mut g = general();
        g.entries.push(("set_responsible".into(), "yes".into()));
        let agents = section("agents", &[("PJSIP/4507", "ivanova"), ("PJSIP/45XX", "duty")]);
        let (c, warnings) = from_sections(&[g, default_profile(), agents]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(c.profile("agents").is_none() && c.general.set_responsible);
        assert_eq!(c.agents.agent_for("PJSIP/4507-00000001"), Some("ivanova"));
        assert_eq!(c.agents.agent_for("PJSIP/4510-00000001"), Some("duty"));
        let bad = section("agents", &[("4507", "ivanova")]);
        let e = from_sections(&[general(), default_profile(), bad]).unwrap_err();
        assert!(e.0.contains("[agents]") && e.0.contains("4507"), "{e}");
    }

    #[test]
    fn profiles_with_type() {
        let p = section("vip", &[("queue", "Helpdesk"), ("type", "Incident"), ("priority", "4 high")]);
        let (c, _) = from_sections(&[general(), default_profile(), p]).unwrap();
        let vip = c.profile("VIP").unwrap();
        assert_eq!(vip.ticket_type.as_deref(), Some("Incident"));
        assert_eq!(vip.priority, "4 high");
    }

    // ------------------------------------------- configs/otrs.conf.sample

    const SAMPLE: &str = include_str!("../../configs/otrs.conf.sample");

    /// Reads Asterisk config text as the module gets it from Asterisk's
    /// config API (the subset the sample uses): `[section]`, `name = value`,
    /// `;` to the end of the line a comment unless written `\;`.
    fn asterisk_sections(text: &str) -> Vec<Section> {
        let mut sections: Vec<Section> = Vec::new();
        for raw in text.lines() {
            let mut line = String::new();
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&';') => {
                        line.push(';');
                        chars.next();
                    }
                    ';' => break,
                    c => line.push(c),
                }
            }
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push(Section { name: name.to_string(), entries: Vec::new() });
            } else if let Some((k, v)) = line.split_once('=') {
                let v = v.strip_prefix('>').unwrap_or(v);
                let section = sections.last_mut().expect("an option before the first [section] of the sample");
                section.entries.push((k.trim().to_string(), v.trim().to_string()));
            } else {
                assert!(line.is_empty(), "a line the sample's reader does not know: {raw:?}");
            }
        }
        sections
    }

    /// The sample with its commented-out `;name = value` lines switched on,
    /// except `examples` (options whose commented value is an example, not
    /// the default), and except commented-out sections such as `;[vip]`.
    fn sample_with_defaults_written_out(examples: &[&str]) -> String {
        let mut out = String::new();
        let mut in_real_section = false;
        for line in SAMPLE.lines() {
            if line.starts_with('[') {
                in_real_section = true;
            } else if line.starts_with(";[") {
                in_real_section = false;
            }
            let option = line.strip_prefix(';').and_then(|l| l.split_once(" = ")).map(|(k, _)| k);
            let known = |k: &str| GENERAL_KEYS.contains(&k) || PROFILE_KEYS.contains(&k);
            match option {
                Some(k) if in_real_section && known(k) && !examples.contains(&k) => out.push_str(&line[1..]),
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_sample_config_loads_without_a_warning() {
        let (c, warnings) = from_sections(&asterisk_sections(SAMPLE)).expect("the sample is a valid otrs.conf");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.general.timeout, Duration::from_millis(3000));
        assert!(c.profile("default").is_some());
    }

    #[test]
    fn the_samples_commented_out_values_are_the_defaults() {
        // these are commented out with an example value, not the default
        let examples = [
            "spool_dir",
            "agent_url",
            "dbsock",
            "national_number_length",
            "type",
            "repeat_window",
            "missed_state",
            "missed_priority",
            "call_id_field",
            "ignore_numbers",
        ];
        let written_out = sample_with_defaults_written_out(&examples);
        let switched_on = written_out.lines().filter(|l| !SAMPLE.contains(&format!("\n{l}\n"))).count();
        assert!(switched_on >= 15, "only {switched_on} commented-out options found:\n{written_out}");
        let (as_shipped, _) = from_sections(&asterisk_sections(SAMPLE)).unwrap();
        let (spelt_out, warnings) = from_sections(&asterisk_sections(&written_out)).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(as_shipped, spelt_out, "a commented-out value in the sample is not the default");
        // and a commented-out example is not: the check above can fail
        let with_example = sample_with_defaults_written_out(&["spool_dir"]);
        assert_ne!(as_shipped, from_sections(&asterisk_sections(&with_example)).unwrap().0);
    }

    #[test]
    fn the_samples_number_example_is_true_as_written() {
        let (c, _) = from_sections(&asterisk_sections(SAMPLE)).unwrap();
        let same = [
            "89161229624",
            "+7 (916) 122-96-24",
            "8 916 122 9624",
            "+79161229624",
            "0079161229624",
            "81079161229624",
            "9161229624",
        ];
        let text: String = SAMPLE.lines().map(|l| l.trim_start_matches(';').trim()).collect::<Vec<_>>().join(" ");
        for n in same {
            assert!(text.contains(n), "{n} is not in the sample's example");
            assert_eq!(crate::number::canonical(n, &c.general.plan).as_deref(), Some("9161229624"), "{n}");
        }
        // national_number_length = 10 (commented out) is what lets this one match
        assert_ne!(crate::number::canonical("79161229624", &c.general.plan).as_deref(), Some("9161229624"));
        let mut plan = c.general.plan.clone();
        plan.national_number_length = Some(10);
        assert_eq!(crate::number::canonical("79161229624", &plan).as_deref(), Some("9161229624"));
    }
}
