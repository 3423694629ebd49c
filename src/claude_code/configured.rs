//! Which Claude Code settings files already point at kimi-native's helper (for `status`).

use super::record::read_record;
use super::{Paths, Scope};
use crate::config::Settings;
use crate::constants as c;
use crate::import::hostfile;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A Claude Code settings file whose `apiKeyHelper` runs `kimi-native token`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Configured {
  pub host: &'static str,
  pub file: String,
}

/// Whether a helper command runs kimi-native's `token`.
pub fn is_kimi_native_helper(command: &str) -> bool {
  let words: Vec<&str> = command.split_whitespace().collect();
  let names_us = words.iter().any(|w| w.contains(c::NATIVE_PRODUCT));
  names_us && words.iter().any(|w| w.trim_matches(['\'', '"']) == "token")
}

/// The Claude Code settings files that point at kimi-native's helper: the ones setup recorded,
/// the user's, and the project's in `cwd`. Only `apiKeyHelper` is looked at; nothing else in
/// those files (they may hold other programs' keys) is read out.
pub fn configured(settings: &Settings, paths: &Paths, cwd: Option<&Path>) -> Vec<Configured> {
  let record = read_record(settings);
  // The helper setup wrote for a file: recognised even where the install path does not name
  // kimi-native (a checkout, a renamed directory).
  let written = |real: &Path| {
    record.files.get(&real.display().to_string()).and_then(|f| {
      f.entries
        .iter()
        .find(|e| e.key == "apiKeyHelper")
        .map(|e| e.value.clone())
    })
  };
  let mut candidates: Vec<PathBuf> = record.files.keys().map(PathBuf::from).collect();
  if let Ok(p) = paths.settings_file(&Scope::User) {
    candidates.push(p);
  }
  if let Some(dir) = cwd {
    let d = dir.join(c::CLAUDE_CODE_DIR);
    candidates.push(d.join(c::CLAUDE_CODE_SETTINGS_FILE));
    candidates.push(d.join(c::CLAUDE_CODE_LOCAL_SETTINGS_FILE));
  }
  let mut seen = std::collections::HashSet::new();
  let mut out = Vec::new();
  for p in candidates {
    let Ok(real) = hostfile::real(&p) else { continue };
    if !seen.insert(real.clone()) {
      continue;
    }
    let helper = std::fs::read_to_string(&real)
      .ok()
      .and_then(|t| serde_json::from_str::<Value>(&t).ok())
      .and_then(|v| v.get("apiKeyHelper").and_then(|h| h.as_str()).map(String::from));
    if helper.is_some_and(|h| is_kimi_native_helper(&h) || written(&real).as_deref() == Some(h.as_str())) {
      out.push(Configured {
        host: c::CLAUDE_CODE_HOST,
        file: p.display().to_string(),
      });
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn helper_recognition() {
    assert!(is_kimi_native_helper(
      "'/usr/bin/node' '/opt/kimi-native/lib/cli.js' token --caller \"$PPID\""
    ));
    assert!(is_kimi_native_helper("kimi-native token"));
    assert!(!is_kimi_native_helper("echo sk-kimi-x"));
    assert!(!is_kimi_native_helper("'/x/kimi-native/lib/cli.js' status"));
  }
}
