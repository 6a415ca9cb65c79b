//! The durable spool of tickets still to be created.
//!
//! When OTRS is slow or down, OTRSTicket() must neither lose the ticket nor
//! keep the caller waiting: it writes a [`Job`] here and lets the call go on
//! only once [`Spool::write`] has returned `Ok`, which means the job is on
//! disk (written, fsync'ed, renamed into place, directory fsync'ed). A
//! background worker later reads the jobs oldest first, creates the tickets,
//! and removes each job only once OTRS has confirmed its ticket. A job thus
//! survives `module unload`, an Asterisk restart, kill -9 and a power cut:
//! tickets are created at least once, never zero times.
//!
//! Layout of the spool directory:
//! - `{id}.job`: one pending job (see [`format`]);
//! - `.tmp-{id}.{pid}.{n}`: a job (or reason) being written; only a crash
//!   mid-write leaves one behind. Never read; [`Spool::clean_tmp`] removes
//!   them at start;
//! - `bad/{id}.job` and `bad/{id}.reason`: jobs that could not be read (or
//!   that the worker gave up on), kept for a human with the reason on one
//!   line. Moving such a `.job` back into the spool directory retries it.
//!
//! Everything else in the directory is ignored, so an admin's notes or a
//! renamed file never stop the worker.
//!
//! The job files' format: see [`format`].
//!
//! Job files are created with mode 0640 and the directories with 0750: jobs
//! hold customers' names and e-mail addresses.

pub mod format;
pub mod job;
pub mod worker;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use format::{decode, encode, HEADER};
pub use job::{Job, NewTicketJob, Task};

use crate::call::end::CallEnd;
use crate::runtime::lock;
use crate::text::one_line;

/// A job file larger than this is corrupt and is not read into memory: the
/// largest real job (templates, customer, call) is a few KiB.
/// [`Spool::write`] refuses to write a job that would be larger.
pub const MAX_JOB_BYTES: u64 = 1 << 20;

/// At most this many characters of the call's key go into a job id.
pub const MAX_KEY_CHARS: usize = 64;

/// Digits of the creation time (Unix milliseconds) at the start of an id:
/// enough until the year 2286, and fixed so that ids sort by time.
const TIME_DIGITS: usize = 13;
const MAX_ID_MS: u64 = 9_999_999_999_999;
const RANDOM_DIGITS: usize = 4;

const JOB_SUFFIX: &str = ".job";
const REASON_SUFFIX: &str = ".reason";
const TMP_PREFIX: &str = ".tmp-";
const BAD_DIR: &str = "bad";
const MAX_REASON_CHARS: usize = 1000;

/// A temporary file of this process older than this is left from a crash
/// (of an earlier process that had the same pid): no write takes so long.
pub const STALE_TMP_AGE: Duration = Duration::from_secs(600);

/// Why a spool operation failed.
///
/// `Io`: the disk or the directory (full, read-only, permissions, gone), or a
/// job id that is not one (`ErrorKind::InvalidInput`); worth retrying later.
/// `Corrupt`: the job file can never be read; move it aside.
#[derive(Debug)]
pub enum SpoolError {
    Io(io::Error),
    Corrupt(String),
}

impl SpoolError {
    pub fn is_corrupt(&self) -> bool {
        matches!(self, SpoolError::Corrupt(_))
    }
}

impl fmt::Display for SpoolError {
    /// One line, fit for a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpoolError::Io(e) => write!(f, "spool I/O error: {}", one_line(&e.to_string(), MAX_REASON_CHARS)),
            SpoolError::Corrupt(why) => write!(f, "corrupt spool job: {}", one_line(why, MAX_REASON_CHARS)),
        }
    }
}

impl std::error::Error for SpoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpoolError::Io(e) => Some(e),
            SpoolError::Corrupt(_) => None,
        }
    }
}

impl From<io::Error> for SpoolError {
    fn from(e: io::Error) -> Self {
        SpoolError::Io(e)
    }
}

pub(crate) fn corrupt(why: impl Into<String>) -> SpoolError {
    SpoolError::Corrupt(why.into())
}

/// The io::Error with the path it is about, for the log line.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// What [`Spool::stats`] reports for the CLI.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Jobs waiting.
    pub depth: usize,
    /// When the oldest waiting job's call came in.
    pub oldest: Option<SystemTime>,
    /// Jobs moved aside to `bad/`.
    pub bad: usize,
}

/// A spool directory. Cheap to share between threads (`&Spool`): every
/// operation is a few system calls, and writes of different jobs never touch
/// the same temporary file.
///
/// Two workers must not process the same job at once (that would create its
/// ticket twice); the module runs one worker per spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    bad: PathBuf,
    /// Serialises read-modify-write of one job between OTRSCallEnd()
    /// (attaching an outcome) and the worker (finishing the job), so an
    /// outcome is never removed together with a job it arrived too late for.
    edit: std::sync::Arc<std::sync::Mutex<()>>,
    /// Tests: every write fails as on a full disk (reads and removals work).
    #[cfg(test)]
    pub(crate) full: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Tests: every write first waits this many milliseconds (a slow disk).
    #[cfg(test)]
    pub(crate) slow_ms: std::sync::Arc<AtomicU64>,
}

impl Spool {
    /// Opens the spool at `dir`, creating it and `dir/bad` (mode 0750) if
    /// missing, and checks that a file can be created there, so a spool that
    /// cannot take jobs is reported at load time, not on the first outage.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        let spool = Spool {
            edit: std::sync::Arc::new(std::sync::Mutex::new(())),
            #[cfg(test)]
            full: Default::default(),
            #[cfg(test)]
            slow_ms: Default::default(),
            dir: dir.to_path_buf(),
            bad: dir.join(BAD_DIR),
        };
        make_dir(&spool.dir).map_err(|e| at(&spool.dir, e))?;
        make_dir(&spool.bad).map_err(|e| at(&spool.bad, e))?;
        let probe = spool.dir.join(format!("{TMP_PREFIX}probe.{}.{}", std::process::id(), next_counter()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&probe)
            .map_err(|e| at(&spool.dir, io::Error::new(e.kind(), format!("cannot create files here: {e}"))))?;
        fs::remove_file(&probe).map_err(|e| at(&probe, e))?;
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn job_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}{JOB_SUFFIX}"))
    }

    /// Stores `job` durably under its id, replacing the job of that id if
    /// there is one (that is how a retry records its attempt).
    ///
    /// When this returns `Ok` the job is on disk and survives a crash or a
    /// power cut, so the call may go on. The job is written to a temporary
    /// file, fsync'ed, renamed over `{id}.job` (atomic: a reader sees the old
    /// job or the new one, never half of one) and the directory fsync'ed (so
    /// the rename itself is on disk).
    ///
    /// On `Err` nothing changed, except in one case: if only the final
    /// directory fsync failed, the new file is in place but maybe not
    /// durable. The job may then still be delivered: a ticket may come twice
    /// (the worker searches first when `maybe_delivered`), never zero times.
    pub fn write(&self, job: &Job) -> Result<(), SpoolError> {
        check_id(&job.id)?;
        #[cfg(test)]
        std::thread::sleep(Duration::from_millis(self.slow_ms.load(Ordering::SeqCst)));
        #[cfg(test)]
        if self.full.load(Ordering::SeqCst) {
            return Err(SpoolError::Io(io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        let text = encode(job);
        if text.len() as u64 > MAX_JOB_BYTES {
            return Err(SpoolError::Io(io::Error::new(
                ErrorKind::InvalidInput,
                format!("spool job {} is {} bytes, more than the limit of {MAX_JOB_BYTES}", job.id, text.len()),
            )));
        }
        match write_durably(&self.dir, &job.id, &self.job_path(&job.id), text.as_bytes()) {
            // the folder was removed after load (tmpfiles cleanup, an admin)
            Err(e) if e.kind() == ErrorKind::NotFound && self.recreate()? => {
                write_durably(&self.dir, &job.id, &self.job_path(&job.id), text.as_bytes())?;
            }
            r => r?,
        }
        Ok(())
    }

    /// Creates the spool folder and `bad/` again if they are gone; true when
    /// it had to.
    pub fn recreate(&self) -> Result<bool, SpoolError> {
        if self.dir.is_dir() && self.bad.is_dir() {
            return Ok(false);
        }
        make_dir(&self.dir).map_err(|e| at(&self.dir, e))?;
        make_dir(&self.bad).map_err(|e| at(&self.bad, e))?;
        crate::log_warning!("spool folder {} was gone: created it again", self.dir.display());
        Ok(true)
    }

    /// [`write`](Self::write) on a thread of its own, waiting for it until
    /// `until`: Some(result) when it finished by then, None when the call
    /// must go on first (a slow or saturated disk); the thread then still
    /// makes the job durable. `done` gets the result either way, on that
    /// thread. Threads are joined by [`join_writers`] (module unload).
    pub fn write_until(
        &self,
        job: Job,
        until: Instant,
        done: impl FnOnce(&Result<(), SpoolError>) + Send + 'static,
    ) -> Option<Result<(), SpoolError>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let spool = self.clone();
        let fallback = job.clone();
        let mut writers = lock(&WRITERS);
        writers.retain(|h| !h.is_finished());
        let spawned = std::thread::Builder::new().name("otrs-spool-write".into()).spawn(move || {
            let r = spool.write(&job);
            done(&r);
            let _ = tx.send(r);
        });
        match spawned {
            Ok(h) => writers.push(h),
            // no thread (the closure and its `done` are gone with the
            // error): write here, whatever it takes
            Err(_) => {
                drop(writers);
                return Some(self.write(&fallback));
            }
        }
        drop(writers);
        rx.recv_timeout(until.saturating_duration_since(Instant::now())).ok()
    }

    /// The ids of the waiting jobs, oldest first (ids sort by creation time).
    /// Only `{id}.job` files whose id is well formed count; temporary files,
    /// `bad/` and anything else are ignored.
    pub fn list(&self) -> Result<Vec<String>, SpoolError> {
        let mut ids = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == ErrorKind::NotFound && self.recreate()? => return Ok(ids),
            r => r.map_err(|e| at(&self.dir, e))?,
        };
        for entry in entries {
            let entry = entry.map_err(|e| at(&self.dir, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(JOB_SUFFIX)) else {
                continue;
            };
            if !is_valid_id(id) || entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            ids.push(id.to_string());
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Reads the job `id`. `Corrupt` when the file can never be read (not a
    /// job, truncated, not a regular file, larger than [`MAX_JOB_BYTES`]: it
    /// is not read then); `Io` with `NotFound` when it is gone (removed by
    /// another worker).
    pub fn read(&self, id: &str) -> Result<Job, SpoolError> {
        check_id(id)?;
        let path = self.job_path(id);
        // O_NOFOLLOW: a symlink is not a job (and must not make us read files
        // elsewhere); O_NONBLOCK: a FIFO named like a job must not hang us.
        let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path);
        let file = match file {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(corrupt("a symbolic link, not a job file")),
            Err(e) => return Err(SpoolError::Io(at(&path, e))),
        };
        let meta = file.metadata().map_err(|e| at(&path, e))?;
        if !meta.is_file() {
            return Err(corrupt("not a regular file"));
        }
        if meta.len() > MAX_JOB_BYTES {
            return Err(corrupt(format!("{} bytes, more than the limit of {MAX_JOB_BYTES}", meta.len())));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_JOB_BYTES + 1).read_to_end(&mut bytes).map_err(|e| at(&path, e))?;
        decode(id, &bytes)
    }

    /// Removes the job `id` (its ticket exists now) and fsyncs the directory,
    /// so the job does not come back after a crash and create the ticket a
    /// second time. A job already gone is no error.
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        check_id(id)?;
        let path = self.job_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(SpoolError::Io(at(&path, e))),
        }
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// When the job `id` was last written (its file's modification time).
    /// The worker rewrites a job with `maybe_delivered` set just before each
    /// request, and a call writes it after its request failed, so this is
    /// no earlier than the last request that may have reached OTRS: after
    /// a restart the recheck delay counts from here, not from the call.
    /// None when the file is gone or the id is not one.
    pub fn last_written(&self, id: &str) -> Option<SystemTime> {
        check_id(id).ok()?;
        fs::symlink_metadata(self.job_path(id)).and_then(|m| m.modified()).ok()
    }

    /// Moves the job `id` out of the way into `bad/{id}.job`, with
    /// `bad/{id}.reason` holding `reason` on one line, so that an unreadable
    /// or hopeless job neither blocks the worker nor gets lost. The reason is
    /// written first: every job in `bad/` has one. Returns the job's new path.
    pub fn move_aside(&self, id: &str, reason: &str) -> Result<PathBuf, SpoolError> {
        check_id(id)?;
        let src = self.job_path(id);
        fs::symlink_metadata(&src).map_err(|e| at(&src, e))?;
        let line = format!("{}\n", one_line(reason, MAX_REASON_CHARS));
        let reason_path = self.bad.join(format!("{id}{REASON_SUFFIX}"));
        write_durably(&self.bad, id, &reason_path, line.as_bytes())?;
        let dest = self.bad.join(format!("{id}{JOB_SUFFIX}"));
        fs::rename(&src, &dest).map_err(|e| at(&src, e))?;
        sync_dir(&self.bad)?;
        sync_dir(&self.dir)?;
        Ok(dest)
    }

    /// Depth, age of the oldest job (from its id) and jobs set aside. Never
    /// fails: an unreadable directory counts as empty (the worker's own
    /// errors report it).
    pub fn stats(&self) -> SpoolStats {
        let ids = self.list().unwrap_or_default();
        let oldest = ids
            .iter()
            .filter_map(|id| id_time(id).or_else(|| fs::metadata(self.job_path(id)).and_then(|m| m.modified()).ok()))
            .min();
        let bad = fs::read_dir(&self.bad)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(JOB_SUFFIX) && !n.starts_with('.')))
                    .count()
            })
            .unwrap_or(0);
        SpoolStats { depth: ids.len(), oldest, bad }
    }

    /// Attaches a call's outcome to the queued ticket job of call `key`.
    /// Ok(false): no such job (the ticket was created meanwhile).
    pub fn attach_end(&self, key: &str, end: &CallEnd) -> Result<bool, SpoolError> {
        let _edit = lock(&self.edit);
        for id in self.list()? {
            let Ok(mut job) = self.read(&id) else { continue };
            if let (true, Task::Create(t)) = (job.key == key, &mut job.task) {
                t.end = Some(end.clone());
                self.write(&job)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Writes a job the worker changed, keeping an outcome that
    /// OTRSCallEnd() attached since the worker read it.
    pub fn update(&self, job: &mut Job) -> Result<(), SpoolError> {
        let _edit = lock(&self.edit);
        if let Task::Create(t) = &mut job.task {
            if t.end.is_none() {
                if let Ok(Job { task: Task::Create(on_disk), .. }) = self.read(&job.id) {
                    t.end = on_disk.end;
                }
            }
        }
        self.write(job)
    }

    /// Whether a ticket job (not an outcome) for call `key` is queued.
    pub fn has_ticket_job(&self, key: &str) -> bool {
        self.list().unwrap_or_default().iter().filter_map(|id| self.read(id).ok()).any(|j| j.creates_ticket_of(key))
    }

    /// Finishes a job whose ticket now exists: removes it, unless an
    /// outcome is (or arrived meanwhile) attached; then the job becomes an
    /// outcome-only job for `ticket_id` and is returned.
    pub fn finish_created(&self, id: &str, ticket_id: &str) -> Result<Option<Job>, SpoolError> {
        let _edit = lock(&self.edit);
        match self.read(id).ok().and_then(|job| job.into_update(ticket_id)) {
            Some(job) => {
                self.write(&job)?;
                Ok(Some(job))
            }
            None => {
                self.remove(id)?;
                Ok(None)
            }
        }
    }

    /// Removes the temporary files a crash mid-write left in the spool and
    /// in `bad/` (they hold nothing that is not elsewhere: the write they
    /// belong to never returned `Ok`). Call it at start.
    ///
    /// Safe while this process writes (a reload starts the worker while calls
    /// may already be queueing): a temporary file is only taken for stale when
    /// its name carries another process's id, or when it is older than
    /// [`STALE_TMP_AGE`] (a restarted Asterisk may get its old pid back, in a
    /// container typically). Returns how many were removed.
    pub fn clean_tmp(&self) -> usize {
        let me = std::process::id();
        let now = SystemTime::now();
        let mut removed = 0;
        for dir in [&self.dir, &self.bad] {
            let Ok(entries) = fs::read_dir(dir) else { continue };
            let mut any = false;
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name();
                let Some(name) = name.to_str().filter(|n| n.starts_with(TMP_PREFIX)) else {
                    continue;
                };
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    continue;
                }
                let ours = tmp_owner(name) == Some(me);
                let old = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age >= STALE_TMP_AGE);
                if (!ours || old) && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                    any = true;
                }
            }
            if any {
                let _ = sync_dir(dir);
            }
        }
        removed
    }
}

/// Threads finishing a job write a call could not wait for.
static WRITERS: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Waits for every job write handed to a thread ([`Spool::write_until`]);
/// false if some are still running after `within` (they are then left to
/// finish: the module must not unload meanwhile).
pub fn join_writers(within: Duration) -> bool {
    let until = Instant::now() + within;
    loop {
        let mut w = lock(&WRITERS);
        let (done, running): (Vec<_>, Vec<_>) = w.drain(..).partition(|h| h.is_finished());
        *w = running;
        drop(w);
        for h in done {
            let _ = h.join();
        }
        if lock(&WRITERS).is_empty() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The process id in a temporary file's name, `.tmp-{what}.{pid}.{n}`.
fn tmp_owner(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(3, '.');
    let _n = parts.next()?;
    parts.next()?.parse().ok()
}

/// A fresh job id: `{created_unix_ms:013}-{key_sanitised}-{4 hex}`.
///
/// The time first makes ids sort by creation (the worker goes oldest first);
/// the key lets an admin find a call's job with `ls`; the last 4 hex digits
/// tell apart jobs of the same key in the same millisecond. They come from a
/// per-process random start plus a counter, so a process never repeats them
/// within 65536 ids. The key is cut to [`MAX_KEY_CHARS`] characters, each
/// one outside `[A-Za-z0-9._-]` replaced by `_`, as is a `.` following a `.`
/// (no `..` in an id). A time before 1970 counts as 0.
pub fn new_job_id(key: &str, created: SystemTime) -> String {
    let ms = created.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0).min(u128::from(MAX_ID_MS));
    format!("{ms:013}-{}-{:04x}", sanitize_key(key), next_random16())
}

fn sanitize_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len().min(MAX_KEY_CHARS));
    let mut prev = '\0';
    for c in key.chars().take(MAX_KEY_CHARS) {
        let c = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' => c,
            '.' if prev != '.' => '.',
            _ => '_',
        };
        out.push(c);
        prev = c;
    }
    out
}

fn next_counter() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn next_random16() -> u16 {
    static BASE: OnceLock<u64> = OnceLock::new();
    let base = *BASE.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS's random source.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
        h.finish()
    });
    base.wrapping_add(next_counter()) as u16
}

/// Whether `id` is one [`new_job_id`] can make: 13 digits, `-`, up to
/// [`MAX_KEY_CHARS`] of `[A-Za-z0-9._-]` without `..`, `-`, 4 lowercase hex
/// digits. Such an id is a plain file name: no `/`, no NUL, not `.`/`..`.
pub fn is_valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    let min = TIME_DIGITS + 1 + 1 + RANDOM_DIGITS;
    if b.len() < min || b.len() > min + MAX_KEY_CHARS {
        return false;
    }
    let (time, rest) = b.split_at(TIME_DIGITS);
    let (key, tail) = rest.split_at(rest.len() - (1 + RANDOM_DIGITS));
    let Some((b'-', key)) = key.split_first() else {
        return false;
    };
    let Some((b'-', random)) = tail.split_first() else {
        return false;
    };
    time.iter().all(u8::is_ascii_digit)
        && random.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        && key.iter().all(|c| matches!(c, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && !key.windows(2).any(|w| w == b"..")
}

fn check_id(id: &str) -> Result<(), SpoolError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        let shown: String = id.chars().take(100).collect();
        Err(SpoolError::Io(io::Error::new(ErrorKind::InvalidInput, format!("not a spool job id: {shown:?}"))))
    }
}

/// The creation time an id starts with.
fn id_time(id: &str) -> Option<SystemTime> {
    let ms: u64 = id.get(..TIME_DIGITS)?.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// Creates `path` and any missing parent with mode 0750, fsyncing each
/// parent so that the new directory itself survives a crash.
fn make_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        make_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(0o750).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && path.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    sync_dir(parent.unwrap_or(Path::new(".")))
}

/// fsync of a directory: makes the creations, renames and removals of its
/// entries durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| at(dir, e))
}

/// Writes `bytes` to `dest` in `dir` atomically and durably: a new
/// temporary file (its name unique to this process and call, so concurrent
/// writes of one id do not mix), fsync, rename over `dest`, fsync of `dir`.
fn write_durably(dir: &Path, id: &str, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{TMP_PREFIX}{id}.{}.{}", std::process::id(), next_counter()));
    let staged = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o640).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = staged {
        let _ = fs::remove_file(&tmp);
        return Err(at(&tmp, e));
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallInfo;
    use crate::config::Profile;
    use crate::customers::Customer;
    use std::os::unix::fs::PermissionsExt;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> TestDir {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            let path =
                std::env::temp_dir().join(format!("otrs-spool-test-{tag}-{}-{}-{nanos}", std::process::id(), next_counter()));
            fs::create_dir_all(&path).unwrap();
            TestDir(path)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn at_ms(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn sample_job(key: &str, created_ms: u64) -> Job {
        Job::new_ticket(
            at_ms(created_ms),
            CallInfo {
                caller: "+7 (916) 122-96-24".into(),
                channel: "PJSIP/trunk-00000001".into(),
                uniqueid: key.into(),
                linkedid: key.into(),
                exten: "100".into(),
                context: "from-trunk".into(),
                node: String::new(),
            },
            Profile {
                name: "default".into(),
                queue: "Raw".into(),
                state: "new".into(),
                priority: "3 normal".into(),
                ticket_type: Some("Incident".into()),
                title: "Call from ${caller_name} (${caller})".into(),
                subject: "Phone call from ${caller}".into(),
                body: "Incoming call from ${caller}.\nCustomer: ${customer_name}.".into(),
                ..Profile::default()
            },
            Some(Customer::new("ivanov", "ACME", "Иван", "Иванов", "ivanov@example.com")),
            Some(1),
        )
    }

    /// The ticket part of a ticket job.
    fn tj(job: &mut Job) -> &mut NewTicketJob {
        match &mut job.task {
            Task::Create(t) => t,
            Task::Update { .. } => panic!("not a ticket job"),
        }
    }

    fn assert_same(a: &Job, b: &Job) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.key, b.key);
        assert_eq!(a.created, b.created);
        assert_eq!(a.attempts, b.attempts);
        assert_eq!(a.maybe_delivered, b.maybe_delivered);
        assert_eq!(a.last_error, b.last_error);
        let (a, b) = match (&a.task, &b.task) {
            (Task::Create(a), Task::Create(b)) => (a, b),
            (Task::Update { ticket_id: x, end: e }, Task::Update { ticket_id: y, end: f }) => {
                assert_eq!((x, e), (y, f));
                return;
            }
            other => panic!("different kinds: {other:?}"),
        };
        assert_eq!(a.end, b.end);
        let (x, y) = (&a.call, &b.call);
        assert_eq!(
            (&x.caller, &x.channel, &x.uniqueid, &x.linkedid, &x.exten, &x.context, &x.node),
            (&y.caller, &y.channel, &y.uniqueid, &y.linkedid, &y.exten, &y.context, &y.node)
        );
        assert_eq!(a.profile, b.profile);
        assert_eq!(a.customer, b.customer);
        assert_eq!(a.matches, b.matches);
    }

    fn expect_corrupt(r: Result<Job, SpoolError>) -> String {
        match r {
            Err(SpoolError::Corrupt(why)) => {
                let shown = SpoolError::Corrupt(why.clone()).to_string();
                assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
                why
            }
            Err(e) => panic!("expected Corrupt, got {e}"),
            Ok(j) => panic!("expected Corrupt, got {j:?}"),
        }
    }

    fn expect_invalid_input<T: fmt::Debug>(r: Result<T, SpoolError>) {
        match r {
            Err(SpoolError::Io(e)) if e.kind() == ErrorKind::InvalidInput => {}
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn spool_round_trip_of_hostile_strings() {
        let t = TestDir::new("hostile");
        let spool = Spool::open(&t.0).unwrap();
        let hostile = "a\r\nb\tc\\d=e\\n\\\\ \n\nend\n=\u{1F600} \u{202E}x\\";
        let big: String = "Ж\\\n=\t🙂x".chars().cycle().take(10 * 1024).collect();
        let mut job = sample_job("1700000000.42", 1_700_000_000_123);
        job.last_error = hostile.to_string();
        tj(&mut job).call.caller = "\"Evil\" <sip:=x@y>\r\nVia: injected".into();
        tj(&mut job).call.channel = "end".into();
        tj(&mut job).call.exten = "=".into();
        tj(&mut job).call.context = "".into();
        tj(&mut job).profile.title = big.clone();
        tj(&mut job).profile.body = format!("{HEADER}\n{hostile}\nend\n");
        tj(&mut job).profile.subject = "Звонок от ${caller}: «клиент» — приоритет".into();
        tj(&mut job).profile.ticket_type = Some(String::new());
        tj(&mut job).customer = Some(Customer::new("lo\tgin\\", "id=1\r", "Пётр", "Щукин-Ёлкин", &big));
        job.attempts = u32::MAX;
        job.maybe_delivered = true;
        tj(&mut job).matches = Some(usize::MAX);
        spool.write(&job).unwrap();
        assert_eq!(spool.list().unwrap(), vec![job.id.clone()]);
        let back = spool.read(&job.id).unwrap();
        assert_same(&job, &back);
        // The file is the documented text, one field a line.
        let text = fs::read_to_string(spool.job_path(&job.id)).unwrap();
        assert!(text.starts_with("otrs-spool-job 1\nkey=1700000000.42\ncreated_ms=1700000000123\n"), "{text}");
        assert!(text.ends_with("\nend\n"));
        assert!(text.contains("\ncall.channel=end\n"));
        assert!(text.contains("\ncall.exten==\n"));
        assert!(text.contains("\nprofile.subject=Звонок от ${caller}: «клиент» — приоритет\n"));
        assert_eq!(text.matches('\r').count(), 0);
        assert_eq!(text.matches('\t').count(), 0);
    }

    #[test]
    fn spool_drops_nul_and_keeps_the_millisecond() {
        let mut job = sample_job("k", 0);
        tj(&mut job).call.caller = "12\u{0}34".into();
        job.created = at_ms(1_700_000_000_123) + Duration::from_micros(999);
        let mut back = decode(&job.id, encode(&job).as_bytes()).unwrap();
        assert_eq!(tj(&mut back).call.caller, "1234");
        assert_eq!(back.created, at_ms(1_700_000_000_123));
    }

    #[test]
    fn spool_customer_none_and_some_ticket_type_and_matches() {
        let t = TestDir::new("options");
        let spool = Spool::open(&t.0).unwrap();
        let mut none = sample_job("none", 1_000);
        tj(&mut none).customer = None;
        tj(&mut none).matches = None;
        tj(&mut none).profile.ticket_type = None;
        let mut some = sample_job("some", 2_000);
        tj(&mut some).matches = Some(0);
        for job in [&none, &some] {
            spool.write(job).unwrap();
            assert_same(job, &spool.read(&job.id).unwrap());
        }
        let text = encode(&none);
        assert!(text.contains("\ncustomer=0\n"));
        assert!(!text.contains("customer.login") && !text.contains("matches=") && !text.contains("ticket_type"));
        let mut back = spool.read(&some.id).unwrap();
        let back = tj(&mut back);
        assert_eq!(back.customer.as_ref().unwrap().full_name(), "Иван Иванов");
        assert_eq!(back.matches, Some(0));
    }

    #[test]
    fn spool_overwrite_bumps_attempts() {
        let t = TestDir::new("overwrite");
        let spool = Spool::open(&t.0).unwrap();
        let mut job = sample_job("1700000000.1", 1_700_000_000_000);
        spool.write(&job).unwrap();
        for n in 1..=3u32 {
            let mut again = spool.read(&job.id).unwrap();
            assert_eq!(again.attempts, n - 1);
            again.attempts += 1;
            again.maybe_delivered = true;
            again.last_error = format!("OTRS timed out (attempt {n})");
            spool.write(&again).unwrap();
            job = again;
        }
        let back = spool.read(&job.id).unwrap();
        assert_eq!(back.attempts, 3);
        assert!(back.maybe_delivered);
        assert_eq!(back.last_error, "OTRS timed out (attempt 3)");
        // One job, no temporary file left behind.
        assert_eq!(files_in(&t.0), vec![format!("{}.job", job.id), "bad".to_string()]);
    }

    #[test]
    fn spool_concurrent_writes_of_one_job_never_tear() {
        let t = TestDir::new("concurrent");
        let spool = Spool::open(&t.0).unwrap();
        let job = sample_job("race", 5_000);
        std::thread::scope(|s| {
            for th in 0..4u32 {
                let (spool, job) = (&spool, &job);
                s.spawn(move || {
                    for i in 0..25u32 {
                        let mut j = job.clone();
                        j.attempts = th * 100 + i;
                        spool.write(&j).unwrap();
                        spool.read(&j.id).unwrap();
                    }
                });
            }
        });
        assert!(spool.read(&job.id).unwrap().attempts % 100 == 24);
        assert_eq!(spool.list().unwrap().len(), 1);
        assert_eq!(spool.clean_tmp(), 0);
    }

    #[test]
    fn spool_list_is_oldest_first_and_ignores_the_rest() {
        let t = TestDir::new("list");
        let spool = Spool::open(&t.0).unwrap();
        let base = 1_700_000_000_000u64;
        let jobs: Vec<Job> = [(3, "c"), (1, "a"), (2, "b"), (1000, "d"), (0, "early")]
            .iter()
            .map(|(dt, key)| sample_job(key, base + dt))
            .collect();
        for j in &jobs {
            spool.write(j).unwrap();
        }
        // Not jobs: a temporary file, other files, a bad id, a directory.
        fs::write(t.0.join(".tmp-1700000000000-x-0000.1.2"), "half").unwrap();
        fs::write(t.0.join("README"), "notes").unwrap();
        fs::write(t.0.join("notanid.job"), encode(&jobs[0])).unwrap();
        fs::write(t.0.join(format!("{}.job.bak", jobs[0].id)), encode(&jobs[0])).unwrap();
        fs::create_dir(t.0.join("1700000000000-dir-abcd.job")).unwrap();
        fs::write(t.0.join("bad").join("1600000000000-old-0000.job"), "x").unwrap();
        let keys: Vec<String> = spool.list().unwrap().iter().map(|id| spool.read(id).unwrap().key).collect();
        assert_eq!(keys, ["early", "a", "b", "c", "d"]);
        let stats = spool.stats();
        assert_eq!(stats.depth, 5);
        assert_eq!(stats.oldest, Some(at_ms(base)));
        assert_eq!(stats.bad, 1);
    }

    #[test]
    fn spool_corrupt_files_are_corrupt() {
        let t = TestDir::new("corrupt");
        let spool = Spool::open(&t.0).unwrap();
        let mut job = sample_job("1700000000.9", 1_700_000_000_000);
        job.last_error = "a\nb".into();
        let good = encode(&job);
        let path = spool.job_path(&job.id);
        let mut binary = format!("{HEADER}\n").into_bytes();
        binary.extend((0..=255u8).cycle().take(4096));
        let cut_in_escape = good.find("last_error=a\\").unwrap() + "last_error=a\\".len();
        let cut_mid_line = good.find("call.channel=").unwrap() + 5;
        let cut_after_line = good.find("\ncall.").unwrap() + 1;
        let edit = |from: &str, to: &str| {
            assert!(good.contains(from), "{from:?}");
            good.replacen(from, to, 1).into_bytes()
        };
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "empty"),
            ("wrong header", edit(HEADER, "otrs-spool-job"), "not a spool job"),
            ("other file", b"[general]\nurl=x\n".to_vec(), "not a spool job"),
            ("crlf header", edit(HEADER, "otrs-spool-job 1\r"), "not supported"),
            ("newer version", edit(HEADER, "otrs-spool-job 2"), "version \"2\""),
            ("binary", binary, "not UTF-8"),
            ("binary only", vec![0xff, 0xfe, 0, 1, 2, b'\n'], "not UTF-8"),
            ("truncated mid-escape", good.as_bytes()[..cut_in_escape].to_vec(), "truncated"),
            ("lone backslash", edit("\nlast_error=a\\nb\n", "\nlast_error=abc\\\n"), "truncated escape"),
            ("unknown escape", edit("\nlast_error=a\\nb\n", "\nlast_error=\\x41\n"), "unknown escape"),
            ("raw NUL", edit("\nlast_error=a\\nb\n", "\nlast_error=a\0b\n"), "NUL"),
            ("no end", edit("\nend\n", "\n"), "no 'end'"),
            ("cut mid-line", good.as_bytes()[..cut_mid_line].to_vec(), "truncated"),
            ("cut after a line", good.as_bytes()[..cut_after_line].to_vec(), "no 'end'"),
            ("after end", format!("{good}key2=x\n").into_bytes(), "after the 'end'"),
            ("blank line", edit("\nattempts=0\n", "\nattempts=0\n\n"), "no '='"),
            ("no '='", edit("\nattempts=0\n", "\nattempts 0\n"), "no '='"),
            ("duplicate", edit("\nattempts=0\n", "\nattempts=0\nattempts=1\n"), "twice"),
            ("missing field", edit("\ncall.exten=100\n", "\n"), "'call.exten'"),
            ("missing customer field", edit("\ncustomer.email=ivanov@example.com\n", "\n"), "'customer.email'"),
            ("bad number", edit("\nattempts=0\n", "\nattempts=zero\n"), "'attempts'"),
            ("signed number", edit("\nattempts=0\n", "\nattempts=+1\n"), "'attempts'"),
            ("number too big", edit("\nattempts=0\n", "\nattempts=4294967296\n"), "'attempts'"),
            ("bad time", edit("created_ms=1700000000000", "created_ms=-1"), "'created_ms'"),
            ("huge time", edit("created_ms=1700000000000", "created_ms=99999999999999999999"), "'created_ms'"),
            ("bad flag", edit("\nmaybe_delivered=0\n", "\nmaybe_delivered=yes\n"), "'maybe_delivered'"),
            ("bad customer flag", edit("\ncustomer=1\n", "\ncustomer=\n"), "'customer'"),
            ("bad matches", edit("\nmatches=1\n", "\nmatches=\n"), "'matches'"),
        ];
        for (name, bytes, want) in cases {
            fs::write(&path, &bytes).unwrap();
            let why = expect_corrupt(spool.read(&job.id));
            assert!(why.contains(want), "{name}: {why:?} lacks {want:?}");
        }
        // Huge: refused from its size, not read.
        let f = File::create(&path).unwrap();
        f.set_len(MAX_JOB_BYTES + 1).unwrap();
        assert!(expect_corrupt(spool.read(&job.id)).contains("limit"));
        f.set_len(1 << 40).unwrap();
        assert!(expect_corrupt(spool.read(&job.id)).contains("limit"));
        drop(f);
        // A symlink to a good job elsewhere is not followed.
        fs::remove_file(&path).unwrap();
        let outside = t.0.join("bad").join("elsewhere");
        fs::write(&outside, &good).unwrap();
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        assert!(expect_corrupt(spool.read(&job.id)).contains("symbolic link"));
        fs::remove_file(&path).unwrap();
        // Unknown fields are ignored: a newer module may add some.
        fs::write(&path, edit("\nend\n", "\nfuture.field=x\\ny\nz=\n=\nend\n")).unwrap();
        assert_same(&job, &spool.read(&job.id).unwrap());
        // A missing file is an I/O error (NotFound), not Corrupt.
        fs::remove_file(&path).unwrap();
        match spool.read(&job.id) {
            Err(SpoolError::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spool_move_aside_moves_both_files() {
        let t = TestDir::new("aside");
        let spool = Spool::open(&t.0).unwrap();
        let keep = sample_job("keep", 1_000);
        let bad = sample_job("bad", 2_000);
        spool.write(&keep).unwrap();
        spool.write(&bad).unwrap();
        let dest = spool.move_aside(&bad.id, "OTRS refused it:\nQueue 'Raw' unknown\r\tfor good").unwrap();
        assert_eq!(dest, t.0.join("bad").join(format!("{}.job", bad.id)));
        assert!(dest.is_file());
        assert!(!spool.job_path(&bad.id).exists());
        let reason = fs::read_to_string(t.0.join("bad").join(format!("{}.reason", bad.id))).unwrap();
        assert_eq!(reason, "OTRS refused it: Queue 'Raw' unknown for good\n");
        assert_eq!(spool.list().unwrap(), vec![keep.id.clone()]);
        assert_eq!(spool.stats(), SpoolStats { depth: 1, oldest: Some(at_ms(1_000)), bad: 1 });
        // The job set aside is intact: moving it back retries it.
        assert_same(&bad, &decode(&bad.id, &fs::read(&dest).unwrap()).unwrap());
        // A job that is not there: NotFound, and nothing written to bad/.
        let ghost = new_job_id("ghost", at_ms(3_000));
        match spool.move_aside(&ghost, "x") {
            Err(SpoolError::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
        assert_eq!(files_in(&t.0.join("bad")).len(), 2);
        // A corrupt file can be set aside too.
        let junk = new_job_id("junk", at_ms(4_000));
        fs::write(spool.job_path(&junk), [0xffu8, 0, 1]).unwrap();
        let why = expect_corrupt(spool.read(&junk));
        spool.move_aside(&junk, &why).unwrap();
        assert_eq!(spool.stats().bad, 2);
        assert_eq!(spool.list().unwrap(), vec![keep.id.clone()]);
        // Remove: gone, and removing again is fine.
        spool.remove(&keep.id).unwrap();
        spool.remove(&keep.id).unwrap();
        assert_eq!(spool.list().unwrap(), Vec::<String>::new());
        assert_eq!(spool.stats(), SpoolStats { depth: 0, oldest: None, bad: 2 });
    }

    #[test]
    fn spool_refuses_path_traversal_ids() {
        let t = TestDir::new("traversal");
        let root = &t.0;
        let spool = Spool::open(&root.join("spool")).unwrap();
        // Victims a traversal would reach.
        let victim_id = "1700000000000-victim-abcd";
        fs::write(root.join(format!("{victim_id}.job")), encode(&sample_job("victim", 0))).unwrap();
        fs::write(root.join("x.job"), "x").unwrap();
        let up_victim = format!("../{victim_id}");
        let too_long = format!("1700000000000-{}-abcd", "k".repeat(MAX_KEY_CHARS + 1));
        let bad_ids = [
            "",
            ".",
            "..",
            "../x",
            up_victim.as_str(),
            "/etc/passwd",
            "1700000000000-a/b-abcd",
            "1700000000000-..-abcd",
            "1700000000000-a..b-abcd",
            "1700000000000-../../x-abcd",
            "1700000000000-a\0b-abcd",
            "1700000000000-a b-abcd",
            "1700000000000-a-ABCD",
            "1700000000000-a-abc",
            "170000000000-a-abcd",
            "17000000000000-a-abcd",
            "bad/1700000000000-a-abcd",
            "1700000000000-\u{1F600}-abcd",
            too_long.as_str(),
        ];
        for id in bad_ids {
            assert!(!is_valid_id(id), "{id:?}");
            expect_invalid_input(spool.read(id));
            expect_invalid_input(spool.remove(id));
            expect_invalid_input(spool.move_aside(id, "x"));
            let mut job = sample_job("k", 0);
            job.id = id.to_string();
            expect_invalid_input(spool.write(&job));
        }
        assert!(root.join(format!("{victim_id}.job")).exists());
        assert!(root.join("x.job").exists());
        assert_eq!(files_in(&root.join("spool")), vec!["bad".to_string()]);
        assert!(files_in(&root.join("spool").join("bad")).is_empty());
        // Longest valid id still is one.
        assert!(is_valid_id(&format!("1700000000000-{}-abcd", "k".repeat(MAX_KEY_CHARS))));
        assert!(is_valid_id("1700000000000--abcd"));
    }

    #[test]
    fn spool_clean_tmp_removes_stale_temporaries_only() {
        let t = TestDir::new("tmp");
        let spool = Spool::open(&t.0).unwrap();
        let job = sample_job("1700000000.5", 1_700_000_000_000);
        spool.write(&job).unwrap();
        let me = std::process::id();
        let other = if me == 999_999_999 { 999_999_998 } else { 999_999_999 };
        // What a crash mid-write leaves: a half-written job, a reason.
        let half = encode(&job);
        fs::write(t.0.join(format!(".tmp-{}.{other}.4", job.id)), &half.as_bytes()[..half.len() / 2]).unwrap();
        fs::write(t.0.join("bad").join(format!(".tmp-{}.{other}.5", job.id)), "reason").unwrap();
        fs::write(t.0.join(".tmp-garbage"), "x").unwrap();
        // A crash of an earlier process with our pid: stale by its age.
        let old = t.0.join(format!(".tmp-{}.{me}.6", job.id));
        fs::write(&old, "x").unwrap();
        let f = File::options().write(true).open(&old).unwrap();
        f.set_modified(SystemTime::now() - STALE_TMP_AGE - Duration::from_secs(1)).unwrap();
        drop(f);
        // A write of this process in progress: kept.
        let busy = format!(".tmp-{}.{me}.7", job.id);
        fs::write(t.0.join(&busy), "x").unwrap();
        // Not temporaries.
        fs::write(t.0.join("keep-me.txt"), "x").unwrap();
        fs::create_dir(t.0.join(".tmp-dir")).unwrap();
        assert_eq!(spool.list().unwrap(), vec![job.id.clone()]);
        assert_eq!(spool.clean_tmp(), 4);
        assert_eq!(spool.clean_tmp(), 0);
        assert_eq!(
            files_in(&t.0),
            vec![busy, ".tmp-dir".to_string(), format!("{}.job", job.id), "bad".into(), "keep-me.txt".into()]
        );
        assert!(files_in(&t.0.join("bad")).is_empty());
        assert_same(&job, &spool.read(&job.id).unwrap());
        assert_eq!(tmp_owner(".tmp-1700000000000-1.2-abcd.1234.5"), Some(1234));
        assert_eq!(tmp_owner(".tmp-probe.77.0"), Some(77));
        assert_eq!(tmp_owner(".tmp-x"), None);
    }

    #[test]
    fn spool_open_creates_the_directories() {
        let t = TestDir::new("open");
        let dir = t.0.join("var").join("spool").join("otrs");
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(spool.dir(), dir.as_path());
        for d in [&dir, &dir.join("bad")] {
            let mode = fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & !0o750, 0, "{} has mode {mode:o}", d.display());
        }
        // Opening again is fine; no probe file is left behind.
        Spool::open(&dir).unwrap();
        assert_eq!(files_in(&dir), vec!["bad".to_string()]);
        // A file where the directory should be.
        fs::write(t.0.join("file"), "x").unwrap();
        assert!(matches!(Spool::open(&t.0.join("file")), Err(SpoolError::Io(_))));
        assert!(matches!(Spool::open(&t.0.join("file").join("sub")), Err(SpoolError::Io(_))));
        // A read-only directory (root ignores permissions: skip the check;
        // a file we create is owned by our effective uid).
        let euid = {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(dir.join("bad")).map(|m| m.uid()).unwrap_or(0)
        };
        if euid != 0 {
            let ro = t.0.join("ro");
            fs::create_dir(&ro).unwrap();
            fs::create_dir(ro.join("bad")).unwrap();
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
            let e = Spool::open(&ro).unwrap_err();
            fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
            assert!(e.to_string().contains("cannot create files"), "{e}");
        }
    }

    #[test]
    fn spool_write_refuses_a_job_too_large_to_read_back() {
        let t = TestDir::new("large");
        let spool = Spool::open(&t.0).unwrap();
        let mut job = sample_job("big", 1);
        tj(&mut job).profile.body = "x".repeat(MAX_JOB_BYTES as usize);
        expect_invalid_input(spool.write(&job));
        assert_eq!(files_in(&t.0), vec!["bad".to_string()]);
    }

    #[test]
    fn spool_job_ids() {
        let t = at_ms(1_700_000_000_042);
        let id = new_job_id("1700000000.42", t);
        assert!(id.starts_with("1700000000042-1700000000.42-"), "{id}");
        assert_eq!(id.len(), "1700000000042-1700000000.42-abcd".len());
        assert!(is_valid_id(&id));
        assert_eq!(id_time(&id), Some(t));
        // Hostile keys become safe file names.
        let long_key = "9".repeat(500);
        for key in ["../../etc/passwd", "a/b\0c\n", "..", "...", "ключ", "", long_key.as_str(), "a b\\c"] {
            let id = new_job_id(key, t);
            assert!(is_valid_id(&id), "{key:?} gave {id:?}");
            assert!(!id.contains('/') && !id.contains("..") && !id.contains('\0'), "{id}");
        }
        assert!(new_job_id("../../etc/passwd", t).starts_with("1700000000042-.__.__etc_passwd-"));
        assert!(new_job_id("ключ", t).starts_with("1700000000042-____-"));
        assert_eq!(new_job_id(&"9".repeat(500), t).len(), 13 + 1 + MAX_KEY_CHARS + 1 + 4);
        // Before 1970, and far future: still 13 digits.
        assert!(new_job_id("k", UNIX_EPOCH - Duration::from_secs(5)).starts_with("0000000000000-k-"));
        let far = UNIX_EPOCH + Duration::from_secs(400 * 365 * 86400);
        assert!(is_valid_id(&new_job_id("k", far)));
        // Unique for one key in one millisecond.
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_job_id("same", t)).collect();
        assert_eq!(ids.len(), 10_000);
        // Sorting by id sorts by time.
        let mut by_time = [new_job_id("z", at_ms(2)), new_job_id("a", at_ms(10)), new_job_id("m", at_ms(1))];
        by_time.sort();
        assert_eq!(by_time.iter().map(|id| id_time(id).unwrap()).collect::<Vec<_>>(), [at_ms(1), at_ms(2), at_ms(10)]);
    }

    #[test]
    fn spool_last_written_is_the_files_mtime() {
        let t = TestDir::new("written");
        let spool = Spool::open(&t.0).unwrap();
        let job = sample_job("1700000000.9", 1_000);
        assert_eq!(spool.last_written(&job.id), None);
        let before = SystemTime::now() - Duration::from_secs(1);
        spool.write(&job).unwrap();
        let w = spool.last_written(&job.id).expect("written");
        assert!(w >= before && w <= SystemTime::now() + Duration::from_secs(1), "{w:?}");
        // not the call's time (1970 here): what the worker's recheck needs
        assert!(w > job.created);
        assert_eq!(spool.last_written("../x"), None);
        spool.remove(&job.id).unwrap();
        assert_eq!(spool.last_written(&job.id), None);
    }

    #[test]
    fn spool_error_display_is_one_line() {
        let e = SpoolError::Io(io::Error::other("disk\nfull"));
        assert_eq!(e.to_string(), "spool I/O error: disk full");
        assert_eq!(corrupt("a\r\nb").to_string(), "corrupt spool job: a b");
    }
}
