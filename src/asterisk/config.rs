//! Reading a config file through Asterisk's config API (so `#include`,
//! templates and `module reload` behave as admins expect).

use super::{copy_cstr, cstring, sys};
use otrs_core::config::Section;

pub enum Loaded {
    Missing,
    Unchanged,
    Invalid,
    Sections(Vec<Section>),
}

/// Loads `file` from Asterisk's config directory. With `only_if_changed`,
/// an unchanged file gives `Unchanged` (what a reload wants).
pub fn load(file: &str, only_if_changed: bool) -> Loaded {
    let name = cstring(file);
    let who = c"app_otrsticket";
    let flags = sys::ast_flags {
        // CONFIG_FLAG_FILEUNCHANGED (an anonymous enum in config.h)
        flags: if only_if_changed { 1 << 1 } else { 0 },
    };
    // SAFETY: plain call; every non-sentinel result is destroyed below.
    let cfg = unsafe { sys::ast_config_load2(name.as_ptr(), who.as_ptr(), flags) };
    match cfg as isize {
        0 => return Loaded::Missing,
        -1 => return Loaded::Unchanged,
        -2 => return Loaded::Invalid,
        _ => {}
    }
    let mut sections = Vec::new();
    // SAFETY: cfg is a valid config until ast_config_destroy; names and
    // variables are copied before that.
    unsafe {
        let mut cat = sys::ast_category_browse(cfg, std::ptr::null());
        while !cat.is_null() {
            let mut section = Section { name: copy_cstr(cat), entries: Vec::new() };
            let mut var = sys::ast_variable_browse(cfg, cat);
            while !var.is_null() {
                section.entries.push((copy_cstr((*var).name), copy_cstr((*var).value)));
                var = (*var).next;
            }
            sections.push(section);
            cat = sys::ast_category_browse(cfg, cat);
        }
        sys::ast_config_destroy(cfg);
    }
    Loaded::Sections(sections)
}
