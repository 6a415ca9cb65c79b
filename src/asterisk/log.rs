//! `ast_log` / `ast_verb` as a sink for the crate's logger.

use super::{cstring, sys};
use otrs_core::runtime::logger::Level;

/// Asterisk's file logs print `file: message`, its console `file:line
/// function: message`: the module's name as the file, and no function (a
/// message names its own context, e.g. "OTRSTicket: ..."), so neither says
/// a name twice.
const FILE: &std::ffi::CStr = c"app_otrsticket";
const FUNC: &std::ffi::CStr = c"";

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

/// Writes one line to Asterisk's logger (see [`otrs_core::runtime::logger::line`]:
/// no control characters, the module's name once).
pub fn sink(level: Level, msg: &str) {
    let text = cstring(&otrs_core::runtime::logger::line(msg));
    // SAFETY: the shim passes `text` as a "%s" argument, never as a format.
    unsafe {
        if level == Level::Verbose {
            sys::otrs_shim_verb(3, text.as_ptr());
        } else {
            sys::otrs_shim_log(ast_level(level), FILE.as_ptr(), 0, FUNC.as_ptr(), text.as_ptr());
        }
    }
}
