//! Local time for ticket texts, through libc (no date crate needed for one
//! format).

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD HH:MM:SS` in the machine's local time zone.
pub fn local_datetime(t: SystemTime) -> String {
    format_local(t, "%Y-%m-%d %H:%M:%S")
}

/// `YYYY-MM-DD` in the machine's local time zone.
pub fn local_date(t: SystemTime) -> String {
    format_local(t, "%Y-%m-%d")
}

fn format_local(t: SystemTime, fmt: &str) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let Ok(secs) = libc::time_t::try_from(secs) else {
        return String::new();
    };
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return String::new();
    };
    libc_strftime(secs, &cfmt)
}

/// The machine's time zone rules (TZ, /etc/localtime) are libc's: reading
/// them again in Rust would be a TZif parser for one date format, so this
/// one call stays (with the `Zeroed` marker of the index's buckets, the only
/// unsafe code of otrs-core outside `customers::pages`).
#[allow(unsafe_code)]
fn libc_strftime(secs: libc::time_t, cfmt: &std::ffi::CStr) -> String {
    // SAFETY: localtime_r writes into our tm; strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_expected_shape() {
        let s = local_datetime(SystemTime::now());
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[4..5], "-");
        assert_eq!(local_date(SystemTime::now()).len(), 10);
    }
}
