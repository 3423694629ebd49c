//! The plan: what setup would change in a settings file (no secret shown), the static keys the
//! helper would replace, and what in the shell's environment would override the file.

use super::desired::{env_key, Entry};
use super::file::{get, read_object};
use super::record::shareable;
use super::{Paths, Scope};
use crate::config::EnvSource;
use crate::constants::{self as c, env};
use crate::error::Result;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

/// One line of the plan. `from` is shown only when it is not a secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
  pub key: String,
  /// `add`, `replace` or `same`.
  pub action: &'static str,
  pub from: Option<String>,
  pub to: String,
}

/// A key the helper replaces (a static key): removed when the user agrees. No value in it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
  pub key: String,
  pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
  pub host: &'static str,
  pub file: String,
  pub exists: bool,
  pub changes: Vec<Change>,
  pub conflicts: Vec<Conflict>,
  /// Things outside the file the user should know (a key in the shell environment).
  pub notes: Vec<String>,
}

pub(super) fn plan_of(
  path: &Path,
  exists: bool,
  map: &Map<String, Value>,
  want: &[Entry],
  env_source: &dyn EnvSource,
) -> Plan {
  let mut changes = Vec::new();
  for e in want {
    let current = get(map, &e.key);
    let (action, from) = match current {
      None => ("add", None),
      Some(Value::String(s)) if *s == e.value => ("same", None),
      Some(v) => {
        let text = v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
        ("replace", shareable(&text).then_some(text))
      }
    };
    changes.push(Change {
      key: e.key.clone(),
      action,
      from,
      to: e.value.clone(),
    });
  }
  let mut conflicts = Vec::new();
  if let Some(envs) = map.get("env").and_then(|v| v.as_object()) {
    for (name, value) in envs {
      let key = env_key(name);
      if want.iter().any(|e| e.key == key) {
        continue;
      }
      let reason = if name == env::ANTHROPIC_API_KEY {
        "a static API key: Claude Code uses it instead of the helper while it is set"
      } else if name == env::ANTHROPIC_AUTH_TOKEN {
        "a static bearer token: Claude Code sends it instead of the helper's token"
      } else if value.as_str().is_some_and(|s| s.trim().starts_with("sk-kimi-")) {
        "a Kimi API key (sk-kimi-…): the helper replaces it"
      } else {
        continue;
      };
      conflicts.push(Conflict {
        key,
        reason: reason.into(),
      });
    }
  }
  // The environment wins over every settings file (docs/claude-code.md): only say so, never read it.
  let mut notes = Vec::new();
  for name in [env::ANTHROPIC_API_KEY, env::ANTHROPIC_AUTH_TOKEN] {
    if env_source.var(name).is_some() {
      notes.push(format!(
        "{name} is set in this shell's environment: Claude Code uses it instead of the helper. Unset it (and remove it from your shell profile)."
      ));
    }
  }
  Plan {
    host: c::CLAUDE_CODE_HOST,
    file: path.display().to_string(),
    exists,
    changes,
    conflicts,
    notes,
  }
}

/// What setup would change in the file of `scope`, without changing anything.
pub fn plan(paths: &Paths, scope: &Scope, want: &[Entry], env_source: &dyn EnvSource) -> Result<Plan> {
  let path = paths.settings_file(scope)?;
  let (text, map) = read_object(&path)?;
  Ok(plan_of(&path, text.is_some(), &map, want, env_source))
}
