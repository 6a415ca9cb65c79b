//! otrs.conf is read through Asterisk's config API, which hands the module
//! its sections as name/value lists; whatever an admin writes, building the
//! configuration must give a Config or a ConfigError, never a panic. The
//! bytes are read as a config file: `[name]` starts a section, `k = v` or
//! `k => v` adds an entry, `;` starts a comment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otrs_core::config::{self, Section};
use otrs_core::number;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.split(']').next().unwrap_or_default().trim();
            sections.push(Section { name: name.to_string(), entries: Vec::new() });
            continue;
        }
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.strip_prefix('>').unwrap_or(v);
        if sections.is_empty() {
            sections.push(Section { name: "general".to_string(), entries: Vec::new() });
        }
        if let Some(s) = sections.last_mut() {
            s.entries.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    match config::from_sections(&sections) {
        Ok((cfg, _warnings)) => {
            let _ = format!("{:?}", cfg.general);
            // Whatever plan the admin wrote, numbers must not panic it.
            for raw in ["+7 (916) 122-96-24", "89161229624", "0049301234567", "810", "+", "0", "123456789012345678901"] {
                let _ = number::canonical(raw, &cfg.general.plan);
            }
            for name in ["", "default", "DEFAULT", "sales"] {
                let _ = cfg.profile(name);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
