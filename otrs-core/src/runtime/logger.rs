//! Logging for code that knows nothing of Asterisk. The module points the
//! sink at `ast_log` when it loads; in unit tests messages go to stderr.

use std::sync::RwLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Notice,
    Warning,
    Error,
    Verbose,
}

pub type Sink = fn(Level, &str);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

pub fn set_sink(sink: Option<Sink>) {
    if let Ok(mut s) = SINK.write() {
        *s = sink;
    }
}

/// Asterisk's logger starts each line of ours with the module's name (the
/// `file` the sink passes to ast_log): `NOTICE[123] app_otrsticket: ...`.
pub const MODULE: &str = "app_otrsticket";

/// A message as it goes into Asterisk's log: control characters replaced,
/// so a hostile caller ID cannot forge extra log lines, and no second
/// "app_otrsticket: " in front, as Asterisk already prints one.
pub fn line(msg: &str) -> String {
    let msg = msg.strip_prefix(MODULE).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(msg);
    msg.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub fn log(level: Level, msg: &str) {
    let sink = SINK.read().ok().and_then(|s| *s);
    match sink {
        Some(f) => f(level, msg),
        None => eprintln!("[{level:?}] {msg}"),
    }
}

#[macro_export]
macro_rules! log_notice { ($($t:tt)*) => { $crate::runtime::logger::log($crate::runtime::logger::Level::Notice, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_warning { ($($t:tt)*) => { $crate::runtime::logger::log($crate::runtime::logger::Level::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::runtime::logger::log($crate::runtime::logger::Level::Error, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_verbose { ($($t:tt)*) => { $crate::runtime::logger::log($crate::runtime::logger::Level::Verbose, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_debug { ($($t:tt)*) => { $crate::runtime::logger::log($crate::runtime::logger::Level::Debug, &format!($($t)*)) } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_the_module_name_once() {
        assert_eq!(line("app_otrsticket: otrs.conf reloaded"), "otrs.conf reloaded");
        assert_eq!(line("OTRSTicket: SIP/1-0 call 1.2: queued"), "OTRSTicket: SIP/1-0 call 1.2: queued");
        // the name inside a sentence is left as written
        assert_eq!(line("spool of app_otrsticket: 2 jobs"), "spool of app_otrsticket: 2 jobs");
    }

    #[test]
    fn control_characters_cannot_start_a_new_line() {
        assert_eq!(line("caller 1\r\nNOTICE[1] forged\0x"), "caller 1  NOTICE[1] forged x");
    }
}
