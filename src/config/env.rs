//! The process environment, passed in so that tests control it.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The process environment, passed in so that tests control it.
#[derive(Debug, Default, Clone)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The variables of this process that are valid UTF-8.
    pub fn from_process() -> Env {
        Env::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env(pairs.into_iter().collect())
    }

    /// A variable's value; empty counts as unset, as the AWS CLI treats it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The path in variable `name` (with `~/` expanded), else `$HOME/default`.
    pub(crate) fn path_or_home(&self, name: &str, default: &str) -> Option<PathBuf> {
        let home = self.get("HOME").map(PathBuf::from);
        match self.get(name) {
            Some(p) => match (p.strip_prefix("~/"), &home) {
                (Some(rest), Some(h)) => Some(h.join(rest)),
                _ => Some(PathBuf::from(p)),
            },
            None => home.map(|h| h.join(default)),
        }
    }
}
