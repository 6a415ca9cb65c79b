//! Reading one section's options: the one reader for `[general]`, profiles
//! and `[customers*]` sources, so every section reports a bad or unknown
//! option in the same words.

use std::fmt;

use super::{ConfigError, Section};

fn err<T>(msg: String) -> Result<T, ConfigError> {
    Err(ConfigError(msg))
}

/// Looks options up in one section.
pub(crate) struct Options<'a> {
    pub(crate) section: &'a Section,
}

impl<'a> Options<'a> {
    pub(crate) fn new(section: &'a Section) -> Self {
        Options { section }
    }

    /// The last value given for `key` (as Asterisk's own modules do).
    pub(crate) fn get(&self, key: &str) -> Option<&'a str> {
        self.section.entries.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.trim())
    }

    pub(crate) fn required(&self, key: &str) -> Result<&'a str, ConfigError> {
        match self.get(key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => err(format!("missing required option '{key}' in [{}] of otrs.conf", self.section.name)),
        }
    }

    pub(crate) fn string(&self, key: &str, default: &str) -> String {
        match self.get(key) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => default.to_string(),
        }
    }

    /// Like `string`, but an option given empty stays empty (`valid_column =`
    /// means "no such column").
    pub(crate) fn string_or_empty(&self, key: &str, default: &str) -> String {
        self.get(key).map_or_else(|| default.to_string(), str::to_string)
    }

    pub(crate) fn number<T>(&self, key: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(v) = self.get(key).filter(|v| !v.is_empty()) else {
            return Ok(default);
        };
        match v.parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => err(format!(
                "invalid value '{v}' for option '{key}' in [{}] of otrs.conf: expected a whole number from {min} to {max}",
                self.section.name
            )),
        }
    }

    pub(crate) fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        let Some(v) = self.get(key).filter(|v| !v.is_empty()) else {
            return Ok(default);
        };
        match v.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" | "t" => Ok(true),
            "no" | "false" | "off" | "0" | "n" | "f" => Ok(false),
            _ => {
                err(format!("invalid value '{v}' for option '{key}' in [{}] of otrs.conf: expected yes or no", self.section.name))
            }
        }
    }

    pub(crate) fn invalid<T>(&self, key: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
        err(format!("invalid value '{value}' for option '{key}' in [{}] of otrs.conf: {expected}", self.section.name))
    }

    /// One warning per option that is in none of the `known` lists.
    pub(crate) fn unknown(&self, known: &[&[&str]]) -> Vec<String> {
        self.section
            .entries
            .iter()
            .filter(|(k, _)| !known.iter().any(|list| list.iter().any(|n| n.eq_ignore_ascii_case(k))))
            .map(|(k, _)| format!("unknown option '{k}' in [{}] of otrs.conf is ignored", self.section.name))
            .collect()
    }
}
