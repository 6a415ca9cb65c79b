//! Spool job files are read back after crashes, disk trouble and admins'
//! edits: any content must give a Job or SpoolError::Corrupt, never a panic,
//! and a job that reads must write and read back to the same text.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use otrs_core::spool::{self, Spool, SpoolError};

const ID: &str = "1700000000000-1700000000.42-abcd";

fn spool() -> &'static Spool {
    static SPOOL: OnceLock<Spool> = OnceLock::new();
    SPOOL.get_or_init(|| {
        let dir = std::env::var_os("OTRS_FUZZ_SPOOL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("otrs-spool-fuzz-{}", std::process::id()));
        Spool::open(&dir).expect("cannot open the fuzz spool directory")
    })
}

fuzz_target!(|data: &[u8]| {
    let in_memory = spool::decode(ID, data);
    if let Ok(job) = &in_memory {
        let text = spool::encode(job);
        let again = spool::decode(ID, text.as_bytes()).expect("a job's own text must read back");
        assert_eq!(spool::encode(&again), text);
    }
    // The same bytes as a file in the spool directory.
    let s = spool();
    std::fs::write(s.dir().join(format!("{ID}.job")), data).expect("cannot write the fuzz job file");
    match (s.read(ID), &in_memory) {
        (Ok(_), Ok(_)) | (Err(SpoolError::Corrupt(_)), Err(SpoolError::Corrupt(_))) => {}
        (file, memory) => panic!("file and memory disagree: {file:?} vs {memory:?}"),
    }
    assert_eq!(s.list().expect("list"), vec![ID.to_string()]);
});
