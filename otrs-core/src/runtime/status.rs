//! The text of `otrs show status`. Pure: tested without Asterisk. Never
//! prints a password.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::customers::IndexStatus;
use crate::runtime::clock;
use crate::runtime::stats::Snapshot;
use crate::spool::SpoolStats;

/// Which otrs.conf runs: when it was loaded, and whether a later reload
/// failed (the previous configuration then stays in use).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigHistory {
    pub loaded_at: Option<SystemTime>,
    /// When the last reload failed, and why; cleared by a good one.
    pub reload_failed: Option<(SystemTime, String)>,
}

impl ConfigHistory {
    pub fn loaded(&mut self, at: SystemTime) {
        self.loaded_at = Some(at);
        self.reload_failed = None;
    }

    pub fn reload_failed(&mut self, at: SystemTime, reason: &str) {
        self.reload_failed = Some((at, reason.to_string()));
    }

    /// Whether the next reload must read otrs.conf even if it did not
    /// change: Asterisk's config API calls a file unchanged once it has
    /// read it, also when the module refused what it read, and "unchanged"
    /// must not pass for a successful reload while the old settings run.
    pub fn must_reread(&self) -> bool {
        self.reload_failed.is_some()
    }
}

#[derive(Default)]
pub struct StatusInput<'a> {
    pub version: &'a str,
    pub config: Option<&'a Config>,
    pub config_history: ConfigHistory,
    pub index: Option<IndexStatus>,
    pub stats: Snapshot,
    pub in_flight: usize,
    pub loaded_at: Option<SystemTime>,
    pub spool_dir: Option<String>,
    pub spool: Option<SpoolStats>,
    /// Since when, and why, OTRS is believed down.
    pub otrs_down: Option<(SystemTime, String)>,
    /// How the module talks to OTRS (protocol, server family), when known.
    pub otrs_protocol: Option<String>,
    /// Since when, and why, OTRS rejects every request of ours.
    pub otrs_rejects: Option<(SystemTime, String)>,
    /// Since when, and why, the spool cannot take jobs.
    pub spool_broken: Option<(SystemTime, String)>,
    /// Spool writes that failed since load.
    pub spool_failures: u64,
    /// Why there is no configuration (otrs.conf unusable at load).
    pub not_configured: Option<String>,
}

fn age(t: SystemTime) -> String {
    let secs = SystemTime::now().duration_since(t).unwrap_or_default().as_secs();
    if secs < 120 {
        format!("{secs} s")
    } else if secs < 7200 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h", secs / 3600)
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0)).unwrap_or_else(|| "-".into())
}

/// Microseconds with one decimal: lookups take a few of them.
fn us(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} µs", d.as_secs_f64() * 1e6)).unwrap_or_else(|| "-".into())
}

fn when(t: Option<SystemTime>) -> String {
    t.map(clock::local_datetime).unwrap_or_else(|| "never".into())
}

pub fn render(s: &StatusInput) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "app_otrsticket {}", s.version);
    let _ = writeln!(o, "Loaded since:     {}", when(s.loaded_at));
    match s.config {
        Some(c) => {
            let loaded = when(s.config_history.loaded_at);
            match &s.config_history.reload_failed {
                Some((at, why)) => {
                    let _ = writeln!(
                        o,
                        "Configuration:    last reload failed at {}: {}; running the configuration of {}",
                        clock::local_datetime(*at),
                        why,
                        loaded
                    );
                }
                None => {
                    let _ = writeln!(o, "Configuration:    loaded {loaded}");
                }
            }
            let g = &c.general;
            // a user:password@ in the URL is shown as ***@
            let _ = writeln!(o, "OTRS URL:         {}", crate::otrs::redact_url(&g.url));
            let _ =
                writeln!(o, "OTRS user:        {} (password set: {})", g.user, if g.password.is_empty() { "no" } else { "yes" });
            let _ = writeln!(o, "Timeout:          {} ms", g.timeout.as_millis());
            let db = match &g.dbsock {
                Some(sock) => format!("socket {sock}"),
                None => format!("{}:{}", g.dbhost, g.dbport),
            };
            if !g.dbuser.is_empty() {
                let _ = writeln!(o, "Database:         {} database '{}' user '{}'", db, g.dbname, g.dbuser);
            }
            let _ = writeln!(o, "Unknown customer: customer user '{}'", g.unknown_customer);
            let names: Vec<&str> = c.profiles.keys().map(String::as_str).collect();
            let _ = writeln!(o, "Profiles:         {}", names.join(", "));
        }
        None => match &s.not_configured {
            Some(why) => {
                let _ = writeln!(
                    o,
                    "Configuration:    NOT CONFIGURED: {why}; calls get OTRSSTATUS=FAILED and go on; fix otrs.conf and run 'module reload app_otrsticket.so'"
                );
            }
            None => {
                let _ = writeln!(o, "Configuration:    none loaded");
            }
        },
    }
    if let Some(i) = &s.index {
        let down = i.sources.iter().filter(|s| !s.up).count();
        let state = if !i.loaded {
            "not loaded yet".to_string()
        } else if i.db_up {
            "up".to_string()
        } else if i.sources.len() > 1 {
            format!("DOWN for {down} of {} sources (using their last loaded customers)", i.sources.len())
        } else {
            "DOWN (using the last loaded customers)".to_string()
        };
        let _ = writeln!(o, "Customer index:   {} customers, {} numbers; database {}", i.customers, i.numbers, state);
        let _ = writeln!(o, "Index refreshed:  {}", when(i.last_refresh));
        if let Some(n) = i.previous_customers {
            let _ = writeln!(o, "Until it loads:   the {n} customers loaded before the reload answer calls");
        }
        if let Some((t, e)) = &i.last_error {
            let _ = writeln!(o, "Database error:   {} at {}", e, clock::local_datetime(*t));
        }
        // Each source in the order calls ask them.
        for src in &i.sources {
            let state = match (src.up, src.loaded) {
                (true, _) => "up",
                (false, true) => "DOWN (its last load stays in use)",
                (false, false) => "DOWN (never loaded)",
            };
            let since = src.since.map(|t| format!(" since {}", clock::local_datetime(t))).unwrap_or_default();
            let _ = writeln!(
                o,
                "Source [{}]:{:w$}{} {}; {state}{since}; {} customers, {} numbers; refreshed {}",
                src.name,
                "",
                src.kind,
                src.target,
                src.customers,
                src.numbers,
                when(src.last_refresh),
                w = 8usize.saturating_sub(src.name.len()).max(1)
            );
            if let Some((t, e)) = src.last_error.as_ref().filter(|_| !src.up) {
                let _ = writeln!(o, "  error:          {} at {}", e, clock::local_datetime(*t));
            }
        }
    }
    if let Some(p) = s.otrs_protocol.as_ref().filter(|p| !p.is_empty()) {
        let _ = writeln!(o, "OTRS protocol:    {p}");
    }
    match &s.otrs_down {
        _ if s.otrs_rejects.is_some() => {
            let (since, why) = s.otrs_rejects.clone().unwrap_or((SystemTime::now(), String::new()));
            let _ = writeln!(
                o,
                "OTRS:             REJECTS since {}: {}; new calls queue their tickets, created after the fix and `module reload`",
                clock::local_datetime(since),
                crate::runtime::health::rejects_text(&why)
            );
        }
        Some((since, why)) if s.spool_broken.is_some() => {
            let _ = writeln!(
                o,
                "OTRS:             DOWN since {} ({}): new calls still try OTRS, the spool cannot keep their tickets",
                clock::local_datetime(*since),
                why
            );
        }
        Some((since, why)) => {
            let _ = writeln!(
                o,
                "OTRS:             DOWN since {} ({}): new calls queue their tickets",
                clock::local_datetime(*since),
                why
            );
        }
        None => {
            let _ = writeln!(o, "OTRS:             up");
        }
    }
    if let Some(sp) = &s.spool {
        let oldest = sp.oldest.map(|t| format!(", oldest {} old", age(t))).unwrap_or_default();
        let _ = writeln!(
            o,
            "Spool:            {} queued{}; {} set aside; {}",
            sp.depth,
            oldest,
            sp.bad,
            s.spool_dir.as_deref().unwrap_or("")
        );
    }
    if let Some((since, why)) = &s.spool_broken {
        let _ = writeln!(
            o,
            "Spool state:      CANNOT TAKE JOBS since {} ({}); {} failed writes since load",
            clock::local_datetime(*since),
            why,
            s.spool_failures
        );
    } else if s.spool_failures > 0 {
        let _ = writeln!(o, "Spool state:      ok ({} failed writes since load)", s.spool_failures);
    }
    let st = &s.stats;
    // `otrs test ticket` counts as a call everywhere; say how many were such
    let cli = if st.cli_tests > 0 { format!("; {} of them 'otrs test ticket'", st.cli_tests) } else { String::new() };
    let _ = writeln!(o, "Calls:            {} (in progress {}{cli})", st.calls, s.in_flight);
    let _ = writeln!(o, "Tickets created:  {}", st.created);
    let _ = writeln!(o, "Repeat calls:     {} (added to an open ticket)", st.appended);
    let _ = writeln!(
        o,
        "Queued:           {} (created later {}, retries {}, duplicates avoided {}, set aside {})",
        st.queued, st.created_later, st.retries, st.duplicates_avoided, st.moved_aside
    );
    if st.rechecks_empty > 0 {
        let _ = writeln!(
            o,
            "Rechecks:         WARNING {} found no ticket for a call OTRS may have created: created again; if an agent renamed it or moved it to a queue this agent cannot read, it has a twin (see README)",
            st.rechecks_empty
        );
    }
    let _ = writeln!(o, "Failed:           {}", st.failed);
    let _ = writeln!(o, "Ignored:          {} (ignore_numbers)", st.ignored);
    let _ = writeln!(o, "Unknown callers:  {}", st.unknown_callers);
    match &st.last_error {
        Some((t, e)) => {
            let _ = writeln!(o, "Last error:       {} at {}", e, clock::local_datetime(*t));
        }
        None => {
            let _ = writeln!(o, "Last error:       none");
        }
    }
    let _ = writeln!(
        o,
        "Latency:          p50 {}, p95 {} (last {} calls), max {} since load",
        ms(st.latency.p50),
        ms(st.latency.p95),
        st.latency.samples,
        ms(st.latency.max)
    );
    let _ = writeln!(
        o,
        "Customer lookup:  p50 {}, p99 {} (last {} calls), max {} since load",
        us(st.lookup.p50),
        us(st.lookup.p99),
        st.lookup.samples,
        us(st.lookup.max)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{from_sections, Section};
    use crate::runtime::stats::Stats;

    fn config() -> Config {
        let general = Section {
            name: "general".into(),
            entries: [
                ("url", "http://otrs.example/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP"),
                ("user", "agent"),
                ("password", "Top-Secret-1"),
                ("dbuser", "otrs"),
                ("dbpass", "Db-Secret-2"),
                ("unknown_customer", "unknown"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let default = Section { name: "default".into(), entries: vec![("queue".into(), "Raw".into())] };
        from_sections(&[general, default]).unwrap().0
    }

    #[test]
    fn a_spool_that_cannot_take_jobs_is_shown_with_its_reason() {
        let c = config();
        let text = render(&StatusInput {
            version: "1",
            config: Some(&c),
            spool_dir: Some("/var/spool/asterisk/otrs".into()),
            spool: Some(SpoolStats::default()),
            otrs_down: Some((SystemTime::now(), "connection refused".into())),
            spool_broken: Some((SystemTime::now(), "No space left on device (os error 28)".into())),
            spool_failures: 3,
            ..Default::default()
        });
        let state = line(&text, "Spool state:");
        assert!(state.contains("CANNOT TAKE JOBS since") && state.contains("No space left on device"), "{text}");
        assert!(state.ends_with("; 3 failed writes since load"), "{text}");
        assert!(line(&text, "OTRS:").contains("new calls still try OTRS"), "not the false 'queue their tickets': {text}");
        assert!(!text.contains("Rechecks:"), "no warning without a reason: {text}");
    }

    #[test]
    fn a_rejecting_otrs_is_not_shown_as_down() {
        let c = config();
        let text = render(&StatusInput {
            version: "1",
            config: Some(&c),
            spool_dir: Some("/var/spool/asterisk/otrs".into()),
            spool: Some(SpoolStats::default()),
            otrs_rejects: Some((SystemTime::now(), "SOAP fault Server: Got no OperationType!".into())),
            otrs_protocol: Some("SOAP GenericTicketConnector, OTOBO namespace x (learnt from the server)".into()),
            ..Default::default()
        });
        let otrs = line(&text, "OTRS:");
        assert!(otrs.contains("REJECTS since") && otrs.contains("OTRS rejects our requests: SOAP fault Server"), "{text}");
        assert!(!otrs.contains("DOWN"), "{text}");
        assert!(line(&text, "OTRS protocol:").contains("OTOBO namespace"), "{text}");
    }

    #[test]
    fn a_module_without_configuration_says_why_and_what_calls_get() {
        let text = render(&StatusInput {
            version: "1",
            not_configured: Some("missing required option 'url' in [general] of otrs.conf".into()),
            ..Default::default()
        });
        let c = line(&text, "Configuration:");
        assert!(c.starts_with("NOT CONFIGURED: missing required option 'url'"), "{text}");
        assert!(c.contains("OTRSSTATUS=FAILED") && c.contains("module reload"), "{text}");
    }

    #[test]
    fn shows_settings_and_state_but_no_password() {
        let c = config();
        let text = render(&StatusInput {
            version: "1.2.3",
            config: Some(&c),
            stats: Snapshot { calls: 5, created: 3, queued: 2, ..Snapshot::default() },
            in_flight: 1,
            spool_dir: Some("/var/spool/asterisk/otrs".into()),
            spool: Some(SpoolStats { depth: 2, oldest: Some(SystemTime::now()), bad: 1 }),
            otrs_down: Some((SystemTime::now(), "connection refused".into())),
            ..Default::default()
        });
        assert!(text.starts_with("app_otrsticket 1.2.3\n"), "{text}");
        assert!(text.contains("OTRS user:        agent (password set: yes)"), "{text}");
        assert!(text.contains("OTRS:             DOWN since"), "{text}");
        assert!(text.contains("Spool:            2 queued, oldest 0 s old; 1 set aside"), "{text}");
        assert!(text.contains("Calls:            5 (in progress 1)"), "{text}");
        assert!(!text.contains("Top-Secret-1") && !text.contains("Db-Secret-2"), "{text}");
        let mut c2 = config();
        c2.general.url = "http://agent:Url-Secret-3@otrs.example/otrs/rpc.pl".into();
        let input = StatusInput { version: "1", config: Some(&c2), ..Default::default() };
        let text = render(&input);
        assert!(!text.contains("Url-Secret-3") && text.contains("http://***@otrs.example/otrs/rpc.pl"), "{text}");
    }

    #[test]
    fn percentiles_say_their_window_and_the_max_since_load() {
        let stats = Stats::default();
        stats.record_lookup(Duration::from_micros(900));
        for _ in 0..2000 {
            stats.record_lookup(Duration::from_micros(3));
            stats.record_latency(Duration::from_millis(20));
        }
        let c = config();
        let text = render(&StatusInput { version: "1", config: Some(&c), stats: stats.snapshot(), ..Default::default() });
        // the 900 µs lookup left the window of 1024 but is still the max
        assert_eq!(line(&text, "Customer lookup:"), "p50 3.0 µs, p99 3.0 µs (last 1024 calls), max 900.0 µs since load");
        assert!(line(&text, "Latency:").ends_with("(last 1024 calls), max 20.0 ms since load"), "{text}");
    }

    fn status_with(history: ConfigHistory) -> String {
        let c = config();
        render(&StatusInput { version: "1", config: Some(&c), config_history: history, ..Default::default() })
    }

    fn line<'t>(text: &'t str, label: &str) -> &'t str {
        text.lines().find_map(|l| l.strip_prefix(label)).unwrap_or_else(|| panic!("no {label} in:\n{text}")).trim()
    }

    #[test]
    fn a_failed_reload_says_why_and_which_configuration_runs() {
        let loaded = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let failed = loaded + Duration::from_secs(3600);
        let mut h = ConfigHistory::default();
        h.loaded(loaded);
        assert!(!h.must_reread());
        assert_eq!(line(&status_with(h.clone()), "Configuration:"), format!("loaded {}", clock::local_datetime(loaded)));
        h.reload_failed(failed, "invalid value 'soon' for option 'timeout' in [general] of otrs.conf");
        assert!(h.must_reread());
        assert_eq!(
            line(&status_with(h.clone()), "Configuration:"),
            format!(
                "last reload failed at {}: invalid value 'soon' for option 'timeout' in [general] of otrs.conf; running the configuration of {}",
                clock::local_datetime(failed),
                clock::local_datetime(loaded)
            )
        );
        // a good reload clears the failure
        h.loaded(failed + Duration::from_secs(60));
        assert!(!h.must_reread() && h.reload_failed.is_none());
        assert!(line(&status_with(h), "Configuration:").starts_with("loaded "));
    }

    #[test]
    fn shows_each_customer_source() {
        use crate::customers::{IndexStatus, SourceStatus};
        let c = config();
        let at = SystemTime::now();
        let source = |name: &str, up: bool, loaded: bool| SourceStatus {
            name: name.into(),
            kind: "ldap".into(),
            target: "ldaps://dc1.example.invalid base 'dc=example' bind 'cn=otrs'".into(),
            loaded,
            up,
            since: Some(at),
            customers: if loaded { 12 } else { 0 },
            numbers: if loaded { 20 } else { 0 },
            last_refresh: loaded.then_some(at),
            last_error: (!up).then(|| (at, "LDAP bind as 'cn=otrs' refused: invalid credentials".to_string())),
        };
        let index = IndexStatus {
            loaded: true,
            customers: 24,
            numbers: 40,
            last_refresh: Some(at),
            last_error: Some((at, "LDAP bind as 'cn=otrs' refused: invalid credentials".into())),
            db_up: false,
            previous_customers: Some(7),
            sources: vec![
                source("general", true, true),
                source("customers-ad", false, true),
                source("customers-x", false, false),
            ],
        };
        let text = render(&StatusInput { version: "1", config: Some(&c), index: Some(index), ..Default::default() });
        assert!(text.contains("Customer index:   24 customers, 40 numbers; database DOWN for 2 of 3 sources"), "{text}");
        assert!(text.contains("Until it loads:   the 7 customers loaded before the reload answer calls"), "{text}");
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Source [")).collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("Source [general]: ldap ldaps://dc1.example.invalid") && lines[0].contains("; up since "),
            "{text}"
        );
        assert!(
            lines[1].contains("DOWN (its last load stays in use) since") && lines[1].contains("12 customers, 20 numbers"),
            "{text}"
        );
        assert!(lines[2].contains("DOWN (never loaded)") && lines[2].contains("refreshed never"), "{text}");
        assert_eq!(text.matches("  error:          LDAP bind as 'cn=otrs' refused: invalid credentials").count(), 2, "{text}");
    }
}
