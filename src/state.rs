//! The module's global state, in one place: the services built from the
//! current configuration (swapped whole on reload; calls in flight keep the
//! snapshot they started with), counters, and calls in progress.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use otrs_core::call::flow::Services;
use otrs_core::call::recent::RecentTickets;
use otrs_core::config::{Api, Config};
use otrs_core::customers::{build_index, start_refreshers, Refresher};
use otrs_core::otrs::generic_client::GenericClient;
use otrs_core::otrs::rpc_client::RpcClient;
use otrs_core::otrs::{Settings, TicketApi};
use otrs_core::runtime::health::Health;
use otrs_core::runtime::lock;
use otrs_core::runtime::stats::Stats;
use otrs_core::runtime::status::ConfigHistory;
use otrs_core::spool::worker::Worker;
use otrs_core::spool::Spool;

static CURRENT: RwLock<Option<Arc<Services>>> = RwLock::new(None);
/// The background threads that keep the customer index fresh, one per source.
static REFRESHER: Mutex<Vec<Refresher>> = Mutex::new(Vec::new());
/// The spool worker thread.
static WORKER: Mutex<Option<Worker>> = Mutex::new(None);
pub static STATS: LazyLock<Stats> = LazyLock::new(Stats::default);
/// Tickets of recent calls (repeat_window); kept across reloads.
pub static RECENT: LazyLock<Arc<RecentTickets>> = LazyLock::new(|| Arc::new(RecentTickets::default()));
/// Whether OTRS is believed down; kept across reloads.
pub static HEALTH: LazyLock<Arc<Health>> = LazyLock::new(|| Arc::new(Health::default()));
/// Calls inside OTRSTicket() right now; unload is refused while > 0.
pub static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
pub static LOADED_AT: Mutex<Option<SystemTime>> = Mutex::new(None);
/// This PBX's name in call keys, read from Asterisk at load (see
/// `otrs_core::call::node_name`).
pub static NODE: LazyLock<String> = LazyLock::new(|| {
    // the kernel's host name, as gethostname() gives it
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    otrs_core::call::node_name(&crate::asterisk::system_name(), host.trim(), &crate::asterisk::entity_id())
});

/// When the running otrs.conf was loaded; whether a reload failed since.
pub static CONFIG_HISTORY: Mutex<ConfigHistory> = Mutex::new(ConfigHistory { loaded_at: None, reload_failed: None });

/// Why the module runs without a configuration (otrs.conf unusable at
/// load): OTRSTicket() then only says so and lets the call go on.
pub static NOT_CONFIGURED: Mutex<Option<String>> = Mutex::new(None);

pub fn not_configured() -> Option<String> {
    lock(&NOT_CONFIGURED).clone()
}

pub fn set_not_configured(why: Option<&str>) {
    *lock(&NOT_CONFIGURED) = why.map(str::to_string);
}

pub fn config_history() -> std::sync::MutexGuard<'static, ConfigHistory> {
    lock(&CONFIG_HISTORY)
}

pub fn current() -> Option<Arc<Services>> {
    CURRENT.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn same_database(a: &Config, b: &Config) -> bool {
    let (ag, bg) = (&a.general, &b.general);
    a.customers == b.customers
        && ag.plan == bg.plan
        && (ag.refresh_interval, ag.full_refresh_interval, ag.index_keep_warm)
            == (bg.refresh_interval, bg.full_refresh_interval, bg.index_keep_warm)
}

/// The spool folder: `spool_dir`, else Asterisk's spool directory + /otrs.
fn spool_path(c: &Config) -> String {
    c.general.spool_dir.clone().unwrap_or_else(|| format!("{}/otrs", crate::asterisk::spool_dir()))
}

/// Makes `config` the one calls use from now on. The customer index (and
/// its thread) is kept when the database settings did not change, so a
/// reload does not reread every customer. Fails (and changes nothing) when
/// the spool folder cannot be used.
pub fn install(config: Config) -> Result<(), String> {
    let dir = spool_path(&config);
    let spool = Spool::open(std::path::Path::new(&dir)).map_err(|e| format!("spool folder {dir} cannot be used: {e}"))?;
    let old = current();
    let keep_index = old.as_ref().filter(|o| same_database(&o.config, &config)).map(|o| o.index.clone());
    let index = match keep_index {
        Some(index) => index,
        None => {
            // The old sources' reads are cut (bounded); their last load
            // keeps answering until the new sources have loaded.
            stop_refresher();
            let index = build_index(&config.customers, &config.general.plan);
            if let Some(o) = &old {
                index.serve_meanwhile(&o.index);
            }
            let g = &config.general;
            let r = start_refreshers(&index, g.refresh_interval, g.full_refresh_interval, g.index_keep_warm);
            *lock(&REFRESHER) = r;
            index
        }
    };
    let settings = Settings {
        url: config.general.url.clone(),
        user: config.general.user.clone(),
        password: config.general.password.clone(),
        use_session: config.general.use_session,
        soap_namespace: config.general.soap_namespace.clone(),
        ..Settings::default()
    };
    let otrs: Box<dyn TicketApi> = match config.general.api {
        Api::Generic => Box::new(GenericClient::new(settings)),
        Api::Rpc => Box::new(RpcClient::new(settings)),
        Api::Rest => Box::new(otrs_core::otrs::rest_client::RestClient::new(settings)),
    };
    let services =
        Arc::new(Services { config, otrs, index, spool, health: HEALTH.clone(), recent: RECENT.clone(), node: NODE.clone() });
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = Some(services);
    let mut worker = lock(&WORKER);
    if worker.is_none() {
        *worker = Some(Worker::start(Arc::new(current), &STATS));
    }
    // a new configuration may fix what OTRS rejected: new calls try OTRS
    // again, and the worker creates the queued tickets now
    if HEALTH.config_changed() {
        otrs_core::log_notice!("configuration changed while OTRS rejected our requests: trying OTRS again");
        if let Some(w) = worker.as_ref() {
            w.kick();
        }
    }
    Ok(())
}

/// Makes the spool worker retry now.
pub fn kick_worker() -> bool {
    match lock(&WORKER).as_ref() {
        Some(w) => {
            w.kick();
            true
        }
        None => false,
    }
}

fn stop_refresher() {
    let all = std::mem::take(&mut *lock(&REFRESHER));
    Refresher::stop_all(all);
}

/// Drops the services and joins every thread the module started: glibc
/// keeps a library mapped while a thread it started lives, and the next
/// `module load` would then find the old copy.
pub fn shutdown() {
    // New calls stop using the services at once (the worker too: it then
    // idles until stopped); calls in flight keep their snapshot.
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = None;
    let worker = lock(&WORKER).take();
    if let Some(w) = worker {
        w.stop();
    }
    stop_refresher();
    *CURRENT.write().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Counts a call in and out of the application.
pub struct InFlight;

impl InFlight {
    pub fn enter() -> InFlight {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn deadline_from(start: Instant, config: &Config) -> Instant {
    start + config.general.timeout
}
