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
