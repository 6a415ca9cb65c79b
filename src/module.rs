//! Load, unload and reload: the three entries of the module the C shim
//! hands to Asterisk. Each is guarded: a panic becomes a declined load or a
//! refused unload, never a crash of Asterisk.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::asterisk::{self, config::Loaded};
use crate::state::{self, IN_FLIGHT, LOADED_AT};
use crate::{answered_app, app, call_end_app, cli};
use otrs_core::config::{self, Config};
use otrs_core::runtime::logger;

const CONFIG_FILE: &str = "otrs.conf";
const LOAD_SUCCESS: i32 = 0;
const LOAD_DECLINE: i32 = 1;

/// Reads and checks otrs.conf; logs why when it cannot be used, and
/// returns the reason (for `otrs show status`).
fn read_config(only_if_changed: bool) -> Result<Option<Config>, String> {
    let sections = match asterisk::config::load(CONFIG_FILE, only_if_changed) {
        Loaded::Sections(s) => s,
        Loaded::Unchanged => return Ok(None),
        Loaded::Missing => {
            otrs_core::log_error!("{CONFIG_FILE} not found in Asterisk's config directory; see otrs.conf.sample");
            return Err(format!("{CONFIG_FILE} not found in Asterisk's config directory"));
        }
        Loaded::Invalid => {
            otrs_core::log_error!("{CONFIG_FILE} could not be parsed (see the config parser's message above)");
            return Err(format!("{CONFIG_FILE} could not be parsed (the log names the line)"));
        }
    };
    match config::from_sections(&sections) {
        Ok((c, warnings)) => {
            for w in warnings {
                otrs_core::log_warning!("{w}");
            }
            Ok(Some(c))
        }
        Err(e) => {
            otrs_core::log_error!("{e}");
            Err(e.to_string())
        }
    }
}

/// Runs an entry on a thread of its own (see asterisk::thread), guarded.
fn on_own_thread(what: &'static str, fallback: i32, f: fn() -> i32) -> i32 {
    crate::asterisk::thread::run_on_own_thread(move || otrs_core::runtime::guard::guard(what, fallback, f)).unwrap_or(fallback)
}

#[no_mangle]
pub extern "C" fn otrs_rs_load() -> i32 {
    otrs_core::runtime::guard::guard("module load", LOAD_DECLINE, || on_own_thread("module load", LOAD_DECLINE, load))
}

fn load() -> i32 {
    logger::set_sink(Some(asterisk::log::sink));
    if let Some(w) = asterisk::series_mismatch() {
        otrs_core::log_warning!("{w}");
    }
    otrs_core::runtime::events::set_sink(Some(app::ami_sink));
    // An unusable otrs.conf must not drop the helpdesk line: without
    // OTRSTicket() Asterisk would hang up every call reaching it. So the
    // applications are registered all the same, and only say why.
    let installed = match read_config(false) {
        Ok(Some(c)) => state::install(c).inspect_err(|_| state::shutdown()),
        Ok(None) => Err(format!("{CONFIG_FILE} could not be read")),
        Err(why) => Err(why),
    };
    match &installed {
        Ok(()) => state::set_not_configured(None),
        Err(why) => {
            otrs_core::log_error!(
                "not configured ({why}): OTRSTicket() sets OTRSSTATUS=FAILED and the calls go on; fix {CONFIG_FILE} and run 'module reload app_otrsticket.so'"
            );
            state::set_not_configured(Some(why));
        }
    }
    if !app::register() || !call_end_app::register() || !answered_app::register() || !cli::register() {
        otrs_core::log_error!("registering OTRSTicket(), OTRSCallEnd(), OTRSAnswered() or the CLI commands failed");
        app::unregister();
        call_end_app::unregister();
        answered_app::unregister();
        cli::unregister();
        state::shutdown();
        return LOAD_DECLINE;
    }
    *LOADED_AT.lock().unwrap_or_else(|p| p.into_inner()) = Some(SystemTime::now());
    if installed.is_err() {
        return LOAD_SUCCESS;
    }
    state::config_history().loaded(SystemTime::now());
    // the log line already starts with the module's name
    otrs_core::log_verbose!(
        "version {} loaded (Asterisk {}); this PBX's calls are keyed '{}-<uniqueid>' in OTRS",
        env!("CARGO_PKG_VERSION"),
        asterisk::version(),
        state::NODE.as_str()
    );
    LOAD_SUCCESS
}

#[no_mangle]
pub extern "C" fn otrs_rs_unload() -> i32 {
    otrs_core::runtime::guard::guard("module unload", -1, || on_own_thread("module unload", -1, unload))
}

fn unload() -> i32 {
    let busy = IN_FLIGHT.load(Ordering::SeqCst);
    if busy > 0 {
        otrs_core::log_warning!("{busy} call(s) inside OTRSTicket(); unload refused, try again");
        return -1;
    }
    // A name lookup a call gave up waiting for still runs our code.
    if !otrs_core::otrs::transport::join_dns_threads(std::time::Duration::from_secs(5)) {
        otrs_core::log_warning!("a DNS lookup for OTRS is still running; unload refused, try again");
        return -1;
    }
    // A job write a call could not wait for (slow disk) still runs our code.
    if !otrs_core::spool::join_writers(std::time::Duration::from_secs(5)) {
        otrs_core::log_warning!("a spool write is still running; unload refused, try again");
        return -1;
    }
    // The threads are stopped first, with OTRSTicket() still registered: a
    // call arriving meanwhile (a thread may take a while to stop) gets
    // FAILED and goes on to Dial(), instead of Asterisk hanging it up for
    // want of the application.
    state::set_not_configured(Some("the module is being unloaded"));
    state::shutdown();
    app::unregister();
    call_end_app::unregister();
    answered_app::unregister();
    cli::unregister();
    // A call may have entered between the check and the unregister.
    while IN_FLIGHT.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if !otrs_core::spool::join_writers(std::time::Duration::from_secs(30)) {
        otrs_core::log_error!("a spool write is still running at unload");
    }
    if !otrs_core::otrs::transport::join_dns_threads(std::time::Duration::from_secs(30)) {
        otrs_core::log_error!("a DNS lookup of the worker is still running at unload");
    }
    otrs_core::runtime::events::set_sink(None);
    logger::set_sink(None);
    0
}

#[no_mangle]
pub extern "C" fn otrs_rs_reload() -> i32 {
    otrs_core::runtime::guard::guard("module reload", -1, || on_own_thread("module reload", -1, reload))
}

fn reload() -> i32 {
    // After a failed reload the file counts as read for Asterisk: read it
    // whole again, or an unchanged broken file would pass for a good reload.
    // Not configured yet: the file may be unchanged since the failed load
    // for Asterisk's config API; read it whole.
    let unconfigured = state::current().is_none();
    let must_reread = state::config_history().must_reread() || unconfigured;
    let failed = |why: String| {
        if unconfigured {
            otrs_core::log_error!("{CONFIG_FILE} still unusable, calls still get OTRSSTATUS=FAILED: {why}");
            state::set_not_configured(Some(&why));
        } else {
            otrs_core::log_error!("{CONFIG_FILE} not reloaded, the previous configuration stays in use: {why}");
        }
        state::config_history().reload_failed(SystemTime::now(), &why);
        -1
    };
    match read_config(!must_reread) {
        Ok(Some(c)) => {
            if let Err(e) = state::install(c) {
                return failed(e);
            }
            state::set_not_configured(None);
            state::config_history().loaded(SystemTime::now());
            otrs_core::log_notice!("{CONFIG_FILE} reloaded; new calls use it, calls in progress finish with the old one");
            0
        }
        Ok(None) => 0,
        Err(why) => failed(why),
    }
}
