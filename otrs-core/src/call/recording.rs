//! A file that goes with the call's outcome: the MixMonitor recording or
//! the voicemail message. Which file, its MIME type, when it is complete
//! (MixMonitor closes it only after the hangup handler started), and what
//! the outcome article says about it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::otrs::Attachment;

/// A file referenced by a call's outcome (also in the spool: the file is
/// read when the article is sent, not copied, unless `spool_copy`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileRef {
    /// Where the file is, as Asterisk sees it.
    pub path: String,
    /// `Filename` of the attachment: the file's own name.
    pub filename: String,
    pub content_type: String,
    /// "Recording" or "Voicemail": how the article names it.
    pub label: String,
    /// Said after the label, e.g. the voicemail's duration ("0:05, ").
    pub detail: String,
    /// A line only the outcome article of this call has: a retry looks for
    /// it before sending again (no second article).
    pub marker: String,
    /// `path` is this module's copy in the spool (`spool_copy`): removed
    /// once the article is in.
    pub copied: bool,
    /// With `copied`: where the file was (delete_after_upload removes it too).
    pub original: String,
}

/// MIME type of a recording by its extension (Asterisk's format names).
pub fn mime_type(filename: &str) -> &'static str {
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        // "WAV" is Asterisk's wav49 (GSM in a WAV container): still audio/wav
        "wav" | "wav49" => "audio/wav",
        "gsm" => "audio/x-gsm",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "ulaw" | "ul" | "mu" | "pcm" => "audio/basic",
        "alaw" | "al" => "audio/x-alaw-basic",
        "g722" => "audio/G722",
        "g729" => "audio/G729",
        "sln" | "raw" => "audio/L16",
        "flac" => "audio/flac",
        _ => "application/octet-stream",
    }
}

/// The file's own name (what follows the last `/`).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A FileRef for `path` with the call's marker.
pub fn file_ref(path: &str, label: &str, detail: &str, key: &str) -> FileRef {
    let name = file_name(path);
    FileRef {
        path: path.to_string(),
        filename: name.to_string(),
        content_type: mime_type(name).to_string(),
        label: label.to_string(),
        detail: detail.to_string(),
        marker: marker_line(key),
        copied: false,
        original: String::new(),
    }
}

/// The line the outcome article of call `key` carries when a file goes with it.
pub fn marker_line(key: &str) -> String {
    let clean: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
    format!("Outcome-ID: {clean}")
}

/// The voicemail VoiceMail() left: `VM_MESSAGEFILE` (a path without the
/// extension) with the first of `formats` that exists, and the message's
/// duration from its `.txt` (None when it cannot be read).
pub fn voicemail_file(message_file: &str, formats: &[&str]) -> Option<(String, Option<u64>)> {
    let base = message_file.trim();
    if base.is_empty() {
        return None;
    }
    let path = formats.iter().map(|f| format!("{base}.{f}")).find(|p| Path::new(p).is_file())?;
    let duration = fs::read_to_string(format!("{base}.txt"))
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.trim().strip_prefix("duration=").and_then(|d| d.trim().parse().ok())));
    Some((path, duration))
}

/// The formats VoiceMail() may have written, in the order to try them.
pub const VOICEMAIL_FORMATS: &[&str] = &["wav", "WAV", "gsm", "mp3", "ogg", "ulaw", "alaw", "g722", "sln"];

fn mb(bytes: u64) -> String {
    if bytes < 1_000_000 {
        format!("{} KB", bytes.div_ceil(1000))
    } else {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0)
    }
}

/// The article's line about the file and the attachment, if it goes.
pub fn prepare(f: &FileRef, max_bytes: u64) -> (String, Option<Attachment>) {
    let name = &f.filename;
    let head = format!("{}: {}{name}", f.label, f.detail);
    let len = match fs::metadata(&f.path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return (format!("{head} not attached: not a regular file.\n"), None),
        Err(e) => return (format!("{head} not attached: the file cannot be read ({}).\n", e.kind()), None),
    };
    if len > max_bytes {
        return (format!("{head} ({}) not attached: larger than max_attachment_size ({}).\n", mb(len), mb(max_bytes)), None);
    }
    match fs::read(&f.path) {
        // read as it was measured: a file that grew meanwhile is not complete
        Ok(content) if content.len() as u64 == len => {
            let att = Attachment { filename: name.clone(), content_type: f.content_type.clone(), content };
            (format!("{head} ({}), attached.\n", mb(len)), Some(att))
        }
        Ok(_) => (format!("{head} not attached: the file changed while it was read.\n"), None),
        Err(e) => (format!("{head} not attached: the file cannot be read ({}).\n", e.kind()), None),
    }
}

/// The article is in: removes this module's spool copy, and the file
/// itself with `delete_after_upload` (`delete`). Failures are logged only.
pub fn done_with(f: &FileRef, delete: bool) {
    let remove = |path: &str| {
        if let Err(e) = fs::remove_file(path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                crate::log_warning!("cannot remove {path} after the upload: {e}");
            }
        }
    };
    if f.copied || delete {
        remove(&f.path);
    }
    if f.copied && delete && !f.original.is_empty() {
        remove(&f.original);
    }
}

/// Whether this process has `path` open (MixMonitor writing it). None when
/// that cannot be told (no /proc, as in a chroot without it).
pub fn open_by_this_process(path: &Path) -> Option<bool> {
    let wanted = fs::canonicalize(path).ok()?;
    let fds = fs::read_dir("/proc/self/fd").ok()?;
    Some(fds.flatten().any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == wanted)))
}

/// A WAV's header says how long it is; Asterisk writes the sizes when it
/// closes the file. Some(true) when they match the file's length.
fn wav_header_complete(path: &Path, len: u64) -> Option<bool> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".wav") || len < 44 {
        return None;
    }
    let mut head = [0u8; 44];
    use std::io::Read;
    fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let riff = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    Some(riff + 8 == len)
}

/// How a wait for a file ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// Closed and unchanged for a while: complete.
    Complete,
    /// Still written to, or never showed up, when the time was up.
    TimedOut(String),
}

/// Waits until `path` is complete: not open in this process (when that can
/// be told), its size and time unchanged for `settle`, and a WAV's header
/// matching its length. Gives up after `max_wait`. Runs off the channel's
/// thread (it sleeps).
pub fn wait_complete(path: &Path, settle: Duration, max_wait: Duration) -> Ready {
    let until = Instant::now() + max_wait;
    let step = (settle / 4).max(Duration::from_millis(20));
    let mut last: Option<(u64, SystemTime)> = None;
    let mut same_since = Instant::now();
    loop {
        let now = Instant::now();
        let seen = fs::metadata(path).ok().map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        if seen != last {
            last = seen;
            same_since = now;
        }
        if let Some((len, _)) = seen {
            let open = open_by_this_process(path) == Some(true);
            let header_ok = wav_header_complete(path, len) != Some(false);
            if !open && header_ok && now.duration_since(same_since) >= settle {
                return Ready::Complete;
            }
        }
        if now >= until {
            return Ready::TimedOut(match seen {
                None => format!("no file after {} s", max_wait.as_secs()),
                Some(_) => format!("still being written after {} s", max_wait.as_secs()),
            });
        }
        std::thread::sleep(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("otrs-rec-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn wav(data_len: u32, header_says: u32) -> Vec<u8> {
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&(header_says + 36).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&header_says.to_le_bytes());
        v.extend(std::iter::repeat_n(7u8, data_len as usize));
        v
    }

    #[test]
    fn mime_types_by_extension() {
        assert_eq!(mime_type("call-1.wav"), "audio/wav");
        assert_eq!(mime_type("msg0000.WAV"), "audio/wav");
        assert_eq!(mime_type("msg0000.gsm"), "audio/x-gsm");
        assert_eq!(mime_type("x.mp3"), "audio/mpeg");
        assert_eq!(mime_type("noext"), "application/octet-stream");
        assert_eq!(file_name("/var/spool/asterisk/monitor/call-1.wav"), "call-1.wav");
    }

    #[test]
    fn files_are_attached_whole_or_not_at_all() {
        let d = temp("prepare");
        let p = d.join("call-7.wav");
        fs::write(&p, wav(1000, 1000)).unwrap();
        let f = file_ref(p.to_str().unwrap(), "Recording", "", "pbx-a-1.2");
        assert_eq!(
            (f.filename.as_str(), f.content_type.as_str(), f.marker.as_str()),
            ("call-7.wav", "audio/wav", "Outcome-ID: pbx-a-1.2")
        );
        let (line, att) = prepare(&f, 50_000_000);
        assert_eq!(line, "Recording: call-7.wav (2 KB), attached.\n");
        assert_eq!(att.unwrap().content, fs::read(&p).unwrap());
        let (line, att) = prepare(&f, 1000);
        assert_eq!(line, "Recording: call-7.wav (2 KB) not attached: larger than max_attachment_size (1 KB).\n");
        assert!(att.is_none());
        let gone = file_ref(d.join("nope.wav").to_str().unwrap(), "Voicemail", "0:05, ", "k");
        let (line, att) = prepare(&gone, 50_000_000);
        assert!(line.starts_with("Voicemail: 0:05, nope.wav not attached: the file cannot be read"), "{line}");
        assert!(att.is_none());
    }

    #[test]
    fn a_file_still_written_is_waited_for() {
        let d = temp("wait");
        let p = d.join("call-8.wav");
        // header not written yet (sizes 0), as MixMonitor leaves it until closing
        fs::write(&p, wav(500, 0)).unwrap();
        let r = wait_complete(&p, Duration::from_millis(50), Duration::from_millis(300));
        assert!(matches!(r, Ready::TimedOut(ref why) if why.contains("still being written")), "{r:?}");
        let writer = {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
                for _ in 0..5 {
                    f.write_all(&[7u8; 100]).unwrap();
                    std::thread::sleep(Duration::from_millis(40));
                }
                drop(f);
                fs::write(&p, wav(1000, 1000)).unwrap();
            })
        };
        let started = Instant::now();
        assert_eq!(wait_complete(&p, Duration::from_millis(100), Duration::from_secs(10)), Ready::Complete);
        assert!(started.elapsed() >= Duration::from_millis(200), "returned before the writer was done");
        writer.join().unwrap();
        assert_eq!(fs::read(&p).unwrap(), wav(1000, 1000));
        let missing = wait_complete(&d.join("never.wav"), Duration::from_millis(20), Duration::from_millis(100));
        assert!(matches!(missing, Ready::TimedOut(ref why) if why.contains("no file")), "{missing:?}");
    }

    #[test]
    fn an_open_file_is_seen_open() {
        let d = temp("open");
        let p = d.join("call-9.raw");
        let f = fs::File::create(&p).unwrap();
        if let Some(open) = open_by_this_process(&p) {
            assert!(open);
            drop(f);
            assert_eq!(open_by_this_process(&p), Some(false));
        }
    }

    #[test]
    fn voicemail_with_its_format_and_duration() {
        let d = temp("vm");
        let base = d.join("msg0000");
        let base = base.to_str().unwrap();
        assert_eq!(voicemail_file(base, VOICEMAIL_FORMATS), None);
        fs::write(format!("{base}.gsm"), b"gsm").unwrap();
        fs::write(format!("{base}.txt"), "[message]\norigmailbox=100\nduration=5\n").unwrap();
        assert_eq!(voicemail_file(base, VOICEMAIL_FORMATS), Some((format!("{base}.gsm"), Some(5))));
        fs::write(format!("{base}.wav"), b"wav").unwrap();
        assert_eq!(voicemail_file(base, VOICEMAIL_FORMATS).unwrap().0, format!("{base}.wav"));
        assert_eq!(voicemail_file("", VOICEMAIL_FORMATS), None);
    }
}
