//! CLI commands: a static table of commands, registered with Asterisk as
//! new-style entries whose handler finds its command by the entry's place
//! in the array.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{copy_cstr, cstring, sys};

pub enum CliError {
    /// Wrong arguments: Asterisk prints the usage text.
    ShowUsage,
}

pub struct Command {
    /// The words, e.g. c"otrs show status".
    pub command: &'static CStr,
    pub summary: &'static CStr,
    pub usage: &'static CStr,
    /// Gets the words after the command; returns the text to print.
    pub run: fn(&[String]) -> Result<String, CliError>,
    /// Tab completion: gets the index of the word being completed among the
    /// words after the command (0 = the first); returns the candidates (the
    /// word typed so far filters them here).
    pub complete: Option<fn(usize) -> Vec<String>>,
}

const CLI_INIT: c_int = -2;
const CLI_GENERATE: c_int = -3;
const CLI_SHOWUSAGE: usize = 1;

struct Entries(Box<[sys::ast_cli_entry]>);
// SAFETY: the entries are only touched by register/unregister under a lock,
// and by Asterisk, which serialises access to its CLI list.
unsafe impl Send for Entries {}

static ENTRIES: Mutex<Option<Entries>> = Mutex::new(None);
static BASE: AtomicPtr<sys::ast_cli_entry> = AtomicPtr::new(std::ptr::null_mut());
static COMMANDS: AtomicPtr<Command> = AtomicPtr::new(std::ptr::null_mut());
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn entry(summary: &'static CStr) -> sys::ast_cli_entry {
    // SAFETY: all-zero is the C initialiser AST_CLI_DEFINE uses for every
    // field we do not set (pointers NULL, counters 0).
    let mut e: sys::ast_cli_entry = unsafe { std::mem::zeroed() };
    // AST_CLI_DEFINE sets cmda to { "" } and the summary; the command words
    // are given at CLI_INIT.
    e.cmda[0] = c"".as_ptr();
    e.summary = summary.as_ptr();
    e.handler = Some(handler);
    e
}

pub fn register(commands: &'static [Command]) -> bool {
    let mut guard = ENTRIES.lock().unwrap_or_else(|p| p.into_inner());
    let mut entries: Box<[sys::ast_cli_entry]> = commands.iter().map(|c| entry(c.summary)).collect();
    COMMANDS.store(commands.as_ptr() as *mut Command, Ordering::SeqCst);
    COUNT.store(commands.len(), Ordering::SeqCst);
    BASE.store(entries.as_mut_ptr(), Ordering::SeqCst);
    // SAFETY: the boxed array stays put (stored below) until unregister.
    let rc = unsafe { sys::otrs_shim_cli_register(entries.as_mut_ptr(), entries.len() as c_int) };
    *guard = Some(Entries(entries));
    rc == 0
}

pub fn unregister() {
    let mut guard = ENTRIES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(mut e) = guard.take() {
        // SAFETY: the same array we registered; Asterisk waits for running
        // handlers before it returns.
        unsafe {
            sys::ast_cli_unregister_multiple(e.0.as_mut_ptr(), e.0.len() as c_int);
        }
    }
    BASE.store(std::ptr::null_mut(), Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
}

fn command_for(e: *mut sys::ast_cli_entry) -> Option<&'static Command> {
    let base = BASE.load(Ordering::SeqCst);
    let count = COUNT.load(Ordering::SeqCst);
    let cmds = COMMANDS.load(Ordering::SeqCst);
    if base.is_null() || cmds.is_null() {
        return None;
    }
    let offset = (e as usize).checked_sub(base as usize)? / std::mem::size_of::<sys::ast_cli_entry>();
    // SAFETY: `cmds` points at a 'static slice of `count` commands.
    (offset < count).then(|| unsafe { &*cmds.add(offset) })
}

/// The handler of every entry: Asterisk calls it with CLI_INIT when the
/// entries are registered, CLI_GENERATE for completion, else to run one.
///
/// # Safety
/// Called by Asterisk only: `e` is one of the entries [`register`] gave it
/// (still registered), `a` NULL or its arguments for this call, with `argc`
/// valid strings in `argv`.
unsafe extern "C" fn handler(e: *mut sys::ast_cli_entry, cmd: c_int, a: *mut sys::ast_cli_args) -> *mut c_char {
    otrs_core::runtime::guard::guard("CLI command", std::ptr::null_mut(), || {
        // SAFETY: Asterisk passes its entry and args for this call.
        unsafe { handle(e, cmd, a) }
    })
}

/// # Safety
/// As for [`handler`].
unsafe fn handle(e: *mut sys::ast_cli_entry, cmd: c_int, a: *mut sys::ast_cli_args) -> *mut c_char {
    let Some(command) = command_for(e) else {
        return std::ptr::null_mut();
    };
    match cmd {
        CLI_INIT => {
            // SAFETY: `e` is our registered entry (command_for found it);
            // Asterisk reads these fields after CLI_INIT returns, and both
            // strings are 'static.
            unsafe {
                (*e).command = command.command.as_ptr() as *mut c_char;
                (*e).usage = command.usage.as_ptr();
            }
            return std::ptr::null_mut();
        }
        // SAFETY: as for `handle`.
        CLI_GENERATE => return unsafe { generate(command, e, a) },
        _ => {}
    }
    if a.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `a` is Asterisk's (non-NULL) args for this call and `e` our
    // entry; argv holds argc valid C strings, and the command's own `args`
    // words come first.
    let (extra, fd) = unsafe {
        let argc = usize::try_from((*a).argc).unwrap_or(0);
        let words = usize::try_from((*e).args).unwrap_or(0);
        let argv = (*a).argv;
        let mut extra = Vec::new();
        for i in words..argc {
            extra.push(copy_cstr(*argv.add(i)));
        }
        (extra, (*a).fd)
    };
    // on a thread of its own: see asterisk::thread
    let run = command.run;
    let result = super::thread::run_on_own_thread(move || {
        otrs_core::runtime::guard::guard("CLI command", Ok("internal error (see the log)\n".to_string()), || run(&extra))
    })
    .unwrap_or(Ok("internal error (see the log)\n".to_string()));
    match result {
        Ok(text) => {
            let out = cstring(&text);
            // SAFETY: the output goes to the CLI's fd as a "%s" argument,
            // never as a format; `out` lives across the call.
            unsafe {
                sys::ast_cli(fd, c"%s".as_ptr(), out.as_ptr());
            }
            std::ptr::null_mut()
        }
        Err(CliError::ShowUsage) => CLI_SHOWUSAGE as *mut c_char,
    }
}

/// CLI_GENERATE: the `n`-th candidate for the word at `pos`, in memory from
/// Asterisk's allocator (it frees it), or NULL when there is none.
///
/// # Safety
/// As for [`handler`]: `e` our registered entry, `a` NULL or Asterisk's args.
unsafe fn generate(command: &Command, e: *mut sys::ast_cli_entry, a: *mut sys::ast_cli_args) -> *mut c_char {
    let Some(complete) = command.complete else {
        return std::ptr::null_mut();
    };
    if a.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: Asterisk's args for this call; `word` NULL or a C string.
    let (word, pos, n, words) = unsafe { (copy_cstr((*a).word), (*a).pos, (*a).n, (*e).args) };
    let (Ok(pos), Ok(n), Ok(words)) = (usize::try_from(pos), usize::try_from(n), usize::try_from(words)) else {
        return std::ptr::null_mut();
    };
    let Some(index) = pos.checked_sub(words) else {
        return std::ptr::null_mut();
    };
    let lower = word.to_ascii_lowercase();
    match complete(index).into_iter().filter(|c| c.to_ascii_lowercase().starts_with(&lower)).nth(n) {
        // SAFETY: a NUL-terminated string; the shim copies it with ast_strdup.
        Some(c) => unsafe { sys::otrs_shim_strdup(cstring(&c).as_ptr()) },
        None => std::ptr::null_mut(),
    }
}
