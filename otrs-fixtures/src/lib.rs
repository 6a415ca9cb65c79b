//! The one way tests read the recordings of a real Znuny 6.5 in
//! `tests/fixtures/otrs/` (see `tests/fixtures/README.md`).
//!
//! Names are relative to that folder: `read("generic-interface/03-TicketCreate-request.xml")`.
//! A missing fixture panics with its path, so a test that needs one fails
//! instead of passing on nothing. The folder is found from this crate's own
//! place in the repository, so every crate, every clone and every user sees
//! the same files.

use std::path::{Path, PathBuf};

/// `tests/fixtures/otrs` of this repository.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/otrs")
}

/// The path of fixture `rel`; panics if it does not exist.
pub fn path(rel: &str) -> PathBuf {
    let p = root().join(rel);
    if !p.exists() {
        missing(rel, "");
    }
    p
}

/// The bytes of fixture `rel`, exactly as recorded.
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(root().join(rel)).unwrap_or_else(|e| missing(rel, &e.to_string()))
}

/// Fixture `rel` as text; panics if it is not UTF-8.
pub fn read_string(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("fixture tests/fixtures/otrs/{rel} is not UTF-8: {e}"))
}

/// The file names in fixture folder `dir`, sorted; panics if it is missing
/// or holds no file (a test looping over none would assert nothing).
pub fn list(dir: &str) -> Vec<String> {
    let entries = std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| missing(dir, &e.to_string()));
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        missing(dir, "no files in it");
    }
    names.sort();
    names
}

/// The one file in folder `dir` whose name starts with `prefix` and ends
/// with `suffix`, e.g. `find("rpc", "rpc-07-", "-response.xml")`; panics
/// unless there is exactly one.
pub fn find(dir: &str, prefix: &str, suffix: &str) -> String {
    let hits: Vec<String> = list(dir).into_iter().filter(|n| n.starts_with(prefix) && n.ends_with(suffix)).collect();
    match hits.as_slice() {
        [one] => format!("{dir}/{one}"),
        [] => missing(&format!("{dir}/{prefix}*{suffix}"), "no such file"),
        _ => panic!("fixtures tests/fixtures/otrs/{dir}/{prefix}*{suffix}: more than one: {hits:?}"),
    }
}

fn missing(rel: &str, why: &str) -> ! {
    let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
    panic!(
        "fixture tests/fixtures/otrs/{rel} is missing{why}: the recordings are part of the \
         repository; restore them with `git checkout -- tests/fixtures`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// Every recording is there, byte for byte as listed in
    /// tests/fixtures/SHA256SUMS, and nothing unlisted was added.
    #[test]
    fn fixtures_match_their_checksums() {
        let sums = std::fs::read_to_string(root().join("../SHA256SUMS")).expect("tests/fixtures/SHA256SUMS");
        let mut listed = Vec::new();
        for line in sums.lines() {
            let (want, name) = line.split_once("  ").unwrap_or_else(|| panic!("bad SHA256SUMS line: {line}"));
            let rel = name.strip_prefix("otrs/").unwrap_or_else(|| panic!("SHA256SUMS: {name} is not under otrs/"));
            let got: String = Sha256::digest(read(rel)).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, want, "tests/fixtures/otrs/{rel} changed: the recordings must stay byte-exact");
            listed.push(rel.to_string());
        }
        let mut present = Vec::new();
        for dir in ["", "generic-interface", "rest", "rpc"] {
            for name in list(if dir.is_empty() { "." } else { dir }) {
                present.push(if dir.is_empty() { name } else { format!("{dir}/{name}") });
            }
        }
        listed.sort();
        present.sort();
        assert_eq!(present, listed, "files in tests/fixtures/otrs and SHA256SUMS differ");
        assert!(listed.len() > 200, "only {} fixtures", listed.len());
    }

    #[test]
    fn a_missing_fixture_fails_naming_it() {
        let err = std::panic::catch_unwind(|| read("rpc/no-such-sample.xml")).unwrap_err();
        let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("tests/fixtures/otrs/rpc/no-such-sample.xml is missing"), "{text}");
        assert!(std::panic::catch_unwind(|| path("rest/none.json")).is_err());
        assert!(std::panic::catch_unwind(|| list("no-such-folder")).is_err());
        assert!(std::panic::catch_unwind(|| find("rpc", "rpc-99-", ".xml")).is_err());
    }

    #[test]
    fn finds_one_sample_by_number() {
        assert_eq!(find("rpc", "rpc-07-", "-response.xml"), "rpc/rpc-07-wrong-password-response.xml");
        assert!(read_string("rpc/INDEX.txt").contains("rpc-07"));
        assert!(path("rest/call-1796147411.0.wav").is_file());
    }
}
