//! A channel as the application sees it: read a few fields, set variables,
//! keep it serviced while we block.

use std::os::raw::c_char;

use super::{copy_cstr, cstring, sys};

/// A channel borrowed for the duration of an application call.
pub struct Channel {
    raw: *mut sys::ast_channel,
}

/// Caller ID longer than this is cut when copied (the app caps it further).
const CALLER_BUF: usize = 16 * 1024;

impl Channel {
    /// # Safety
    /// `raw` must be the live channel Asterisk passed to the application.
    pub unsafe fn from_raw(raw: *mut sys::ast_channel) -> Option<Channel> {
        (!raw.is_null()).then_some(Channel { raw })
    }

    /// The caller ID number, when the channel has a valid one.
    pub fn caller_number(&self) -> Option<String> {
        let mut buf = vec![0u8; CALLER_BUF];
        // SAFETY: the shim copies under the channel lock into our buffer.
        let found = unsafe { sys::otrs_shim_caller_number(self.raw, buf.as_mut_ptr().cast::<c_char>(), buf.len()) };
        (found == 1).then(|| Self::buf_to_string(&buf))
    }

    /// A channel variable's value, copied under the channel lock.
    pub fn var(&self, name: &str) -> Option<String> {
        let name = cstring(name);
        let mut buf = vec![0u8; 4096];
        // SAFETY: as above.
        let found = unsafe { sys::otrs_shim_getvar(self.raw, name.as_ptr(), buf.as_mut_ptr().cast::<c_char>(), buf.len()) };
        (found == 1).then(|| Self::buf_to_string(&buf))
    }

    fn buf_to_string(buf: &[u8]) -> String {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned()
    }

    pub fn set_var(&self, name: &str, value: &str) {
        let (n, v) = (cstring(name), cstring(value));
        // SAFETY: pbx_builtin_setvar_helper locks the channel itself and copies.
        unsafe {
            sys::pbx_builtin_setvar_helper(self.raw, n.as_ptr(), v.as_ptr());
        }
    }

    /// Sets several variables under one channel lock, without the VarSet
    /// event (AMI/ARI) that [`set_var`](Self::set_var) publishes for each.
    pub fn set_vars_quiet(&self, vars: &[(String, String)]) {
        let owned: Vec<_> = vars.iter().map(|(n, v)| (cstring(n), cstring(v))).collect();
        let names: Vec<*const c_char> = owned.iter().map(|(n, _)| n.as_ptr()).collect();
        let values: Vec<*const c_char> = owned.iter().map(|(_, v)| v.as_ptr()).collect();
        // SAFETY: both arrays hold `len` pointers to NUL-terminated strings
        // that outlive the call; the shim locks the channel and copies them.
        unsafe {
            sys::otrs_shim_set_vars_quiet(self.raw, names.as_ptr(), values.as_ptr(), names.len());
        }
    }

    /// Writes a dialplan function, e.g. `CALLERID(name)`.
    pub fn write_function(&self, function: &str, value: &str) -> bool {
        let (f, v) = (cstring(function), cstring(value));
        // SAFETY: ast_func_write locks what it needs and copies the value.
        unsafe { sys::ast_func_write(self.raw, f.as_ptr(), v.as_ptr()) == 0 }
    }

    /// Name, uniqueid, linkedid, exten and context, read under one lock.
    pub fn identity(&self) -> ChannelIdentity {
        // SAFETY: the accessors return pointers into the locked channel;
        // we copy before unlocking.
        unsafe {
            sys::otrs_shim_channel_lock(self.raw);
            let id = ChannelIdentity {
                name: copy_cstr(sys::ast_channel_name(self.raw)),
                uniqueid: copy_cstr(sys::ast_channel_uniqueid(self.raw)),
                linkedid: copy_cstr(sys::ast_channel_linkedid(self.raw)),
                exten: copy_cstr(sys::ast_channel_exten(self.raw)),
                context: copy_cstr(sys::ast_channel_context(self.raw)),
            };
            sys::otrs_shim_channel_unlock(self.raw);
            id
        }
    }

    pub fn hung_up(&self) -> bool {
        // SAFETY: a live channel.
        unsafe { sys::ast_check_hangup(self.raw) != 0 }
    }

    /// Keeps the channel serviced (media read and dropped, hangup noticed)
    /// while the caller thread blocks, until the guard is dropped.
    pub fn autoservice(&self) -> Autoservice<'_> {
        // SAFETY: a live channel, not locked by us.
        let started = unsafe { sys::ast_autoservice_start(self.raw) } == 0;
        Autoservice { chan: self, started }
    }
}

pub struct ChannelIdentity {
    pub name: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub exten: String,
    pub context: String,
}

pub struct Autoservice<'a> {
    chan: &'a Channel,
    started: bool,
}

impl Drop for Autoservice<'_> {
    fn drop(&mut self) {
        if self.started {
            // SAFETY: started on this channel by us; channel not locked.
            unsafe {
                sys::ast_autoservice_stop(self.chan.raw);
            }
        }
    }
}
