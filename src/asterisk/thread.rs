//! Running module code on a short-lived POSIX thread.
//!
//! Asterisk loads modules at startup on its main thread, which never ends,
//! and the foreground console runs CLI commands there too. glibc keeps a
//! shared library mapped while any live thread holds one of its
//! thread-local destructors, and Rust's std registers such destructors
//! (even `std::thread::spawn` touches one on the spawning thread). Code run
//! there would pin the module: after `module unload` the old code would stay
//! and a `module load` of a new version would get the old one. So load,
//! unload, reload and CLI commands run on a thread of their own, created
//! with pthread_create (not std, for the reason above) and joined at once.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

struct Task<R> {
    f: Option<Box<dyn FnOnce() -> R + Send>>,
    out: Option<R>,
}

extern "C" fn trampoline<R>(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Task that run_on_own_thread keeps alive until it
    // has joined this thread.
    let task = unsafe { &mut *arg.cast::<Task<R>>() };
    if let Some(f) = task.f.take() {
        // a panic must not unwind out of a C thread start routine
        task.out = catch_unwind(AssertUnwindSafe(f)).ok();
    }
    std::ptr::null_mut()
}

/// Runs `f` on a new thread and waits for it. None when `f` panicked; runs
/// it on the calling thread when no thread can be created.
pub fn run_on_own_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
    let mut task: Task<R> = Task { f: Some(Box::new(f)), out: None };
    let mut tid: libc::pthread_t = 0;
    // SAFETY: `task` outlives the thread: we join it before returning.
    let rc = unsafe {
        libc::pthread_create(&mut tid, std::ptr::null(), trampoline::<R>, (&mut task as *mut Task<R>).cast::<c_void>())
    };
    if rc != 0 {
        let f = task.f.take()?;
        return catch_unwind(AssertUnwindSafe(f)).ok();
    }
    // SAFETY: a thread we created and have not joined or detached.
    unsafe {
        libc::pthread_join(tid, std::ptr::null_mut());
    }
    task.out
}
