//! `ast_log` / `ast_verb` as a sink for the crate's logger.

use super::{cstring, sys};
use otrs_core::runtime::logger::Level;

const FILE: &std::ffi::CStr = c"app_otrsticket";
const FUNC: &std::ffi::CStr = c"OTRSTicket";

/// Asterisk's log levels (__LOG_DEBUG ... __LOG_VERBOSE).
fn ast_level(level: Level) -> i32 {
    match level {
        Level::Debug => 0,
        Level::Notice => 2,
        Level::Warning => 3,
        Level::Error => 4,
        Level::Verbose => 5,
    }
}

/// Writes one line to Asterisk's logger. Control characters are replaced so
/// a hostile caller ID cannot forge extra log lines.
pub fn sink(level: Level, msg: &str) {
    let clean: String = msg.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = cstring(&clean);
    // SAFETY: the shim passes `text` as a "%s" argument, never as a format.
    unsafe {
        if level == Level::Verbose {
            sys::otrs_shim_verb(3, text.as_ptr());
        } else {
            sys::otrs_shim_log(ast_level(level), FILE.as_ptr(), 0, FUNC.as_ptr(), text.as_ptr());
        }
    }
}
