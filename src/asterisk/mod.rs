//! The one place that talks to Asterisk's C API. Everything `unsafe` lives
//! here, behind small safe wrappers; the rest of the module never sees a raw
//! pointer.

// bindgen's output (its helper types' unsafe fns do not wrap their bodies)
#[allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, clippy::all, unsafe_op_in_unsafe_fn)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/asterisk_bindings.rs"));
}

pub mod channel;
pub mod cli;
pub mod config;
pub mod log;
pub mod thread;

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

/// A C string for Asterisk: interior NUL bytes are dropped, not an error,
/// so untrusted text can never truncate or fail a call.
pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Copies a C string Asterisk owns; invalid UTF-8 is replaced, NULL is "".
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string valid for the call.
pub unsafe fn copy_cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: non-NULL, and NUL-terminated per this function's contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Asterisk's version string, e.g. "22.6.0".
pub fn version() -> String {
    // SAFETY: returns a static string owned by Asterisk.
    unsafe { copy_cstr(sys::ast_get_version()) }
}

/// The Asterisk series the module was built for (build.rs: from the headers).
pub fn built_series() -> u32 {
    env!("OTRS_ASTERISK_SERIES").parse().unwrap_or(0)
}

/// The status lines on the Asterisk built for and the one running.
pub fn built_for_status() -> String {
    otrs_core::runtime::series::status_lines(built_series(), env!("OTRS_ASTERISK_BUILT_FOR"), &version())
}

/// Why the running Asterisk is not the series built for, if it is not.
pub fn series_mismatch() -> Option<String> {
    otrs_core::runtime::series::mismatch(built_series(), &version())
}

/// The spool directory Asterisk was configured with.
pub fn spool_dir() -> String {
    // SAFETY: a static string owned by Asterisk.
    unsafe { copy_cstr(sys::otrs_shim_spool_dir()) }
}

/// asterisk.conf's `systemname`; empty when not set.
pub fn system_name() -> String {
    // SAFETY: a string Asterisk owns for its lifetime (the shim never
    // returns NULL).
    unsafe { copy_cstr(sys::otrs_shim_system_name()) }
}

/// This Asterisk's entity ID (`aa:bb:cc:dd:ee:ff`, from a MAC address or
/// asterisk.conf's `entityid`); empty if Asterisk gave none.
pub fn entity_id() -> String {
    let mut buf = [0 as c_char; 32];
    // SAFETY: the shim writes at most buf.len() bytes, NUL-terminated.
    unsafe {
        sys::otrs_shim_entity_id(buf.as_mut_ptr(), buf.len() as i32);
        copy_cstr(buf.as_ptr())
    }
}

/// Raises an AMI event (category "call"); `body` is `Key: Value\r\n` lines.
pub fn manager_event(event: &str, body: &str) {
    let (e, b) = (cstring(event), cstring(body));
    // SAFETY: the shim passes `body` as a "%s" argument.
    unsafe { sys::otrs_shim_manager_event(e.as_ptr(), b.as_ptr()) }
}

/// Registers a dialplan application of this module.
pub fn register_application(
    name: &'static CStr,
    exec: unsafe extern "C" fn(*mut sys::ast_channel, *const c_char) -> i32,
    synopsis: &'static CStr,
    description: &'static CStr,
) -> bool {
    // SAFETY: all strings are 'static; Asterisk copies what it keeps.
    unsafe { sys::otrs_shim_register_app(name.as_ptr(), Some(exec), synopsis.as_ptr(), description.as_ptr()) == 0 }
}

pub fn unregister_application(name: &'static CStr) {
    // SAFETY: a static NUL-terminated name.
    unsafe {
        sys::ast_unregister_application(name.as_ptr());
    }
}
