//! Claude Code's settings file as JSON: keys as dotted paths (`env.ANTHROPIC_MODEL`), a read
//! that refuses a file it cannot change safely, and a write-back that keeps a backup and the
//! file's own formatting and permissions.

use crate::error::{KimiError, Result};
use crate::import::{hostfile, parse};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

fn split(key: &str) -> (Option<&str>, &str) {
  match key.split_once('.') {
    Some((parent, name)) => (Some(parent), name),
    None => (None, key),
  }
}

pub(super) fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
  match split(key) {
    (Some(parent), name) => map.get(parent).and_then(|v| v.as_object()).and_then(|o| o.get(name)),
    (None, name) => map.get(name),
  }
}

/// Sets a key in place (an existing key keeps its position; a new one goes last).
pub(super) fn set(map: &mut Map<String, Value>, key: &str, value: &str) {
  let target = match split(key) {
    (Some(parent), name) => {
      let obj = map.entry(parent).or_insert_with(|| Value::Object(Map::new()));
      match obj.as_object_mut() {
        Some(o) => (o, name),
        None => return, // refused earlier by `check_shape`
      }
    }
    (None, name) => (map, name),
  };
  target.0.insert(target.1.to_string(), Value::String(value.to_string()));
}

pub(super) fn unset(map: &mut Map<String, Value>, key: &str) {
  match split(key) {
    (Some(parent), name) => {
      if let Some(o) = map.get_mut(parent).and_then(|v| v.as_object_mut()) {
        o.shift_remove(name);
      }
    }
    (None, name) => {
      map.shift_remove(name);
    }
  }
}

/// The file's JSON object, or an empty one for a file that does not exist yet. A file that is
/// not a JSON object, or whose `env` / `apiKeyHelper` has another type, is refused.
pub(super) fn read_object(path: &Path) -> Result<(Option<String>, Map<String, Value>)> {
  let text = match std::fs::read_to_string(path) {
    Ok(t) => t,
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, Map::new())),
    Err(e) => {
      return Err(KimiError::store(format!(
        "Cannot read {}: {e}. Nothing was changed.",
        path.display()
      )))
    }
  };
  let refuse = |why: String| {
    KimiError::bad_input(format!(
      "{} cannot be changed safely: {why}. Fix it (or move it away) and run this again. Nothing was changed.",
      path.display()
    ))
  };
  let map = parse::object(&text).map_err(refuse)?;
  if map.get("env").is_some_and(|v| !v.is_object()) {
    return Err(refuse("its `env` is not an object".into()));
  }
  if map.get("apiKeyHelper").is_some_and(|v| !v.is_string()) {
    return Err(refuse("its `apiKeyHelper` is not a string".into()));
  }
  Ok((Some(text), map))
}

/// Writes `map` to `path` (backing up an existing file first); returns the backup's path.
pub(super) fn write_back(path: &Path, existed: Option<&str>, map: &Map<String, Value>) -> Result<Option<PathBuf>> {
  let fail = |what: &str, e: std::io::Error| {
    KimiError::store(format!("Cannot {what} {}: {e}. Nothing was changed.", path.display()))
  };
  match existed {
    Some(text) => {
      let real = hostfile::real(path).map_err(|e| fail("resolve", e))?;
      let backup = hostfile::backup(&real).map_err(|e| fail("back up", e))?;
      let out = hostfile::to_host_json(map, text.ends_with('\n'));
      hostfile::replace(&real, out.as_bytes()).map_err(|e| {
        KimiError::store(format!(
          "Cannot write {}: {e}. The file is unchanged; a copy is in {}.",
          path.display(),
          backup.display()
        ))
      })?;
      Ok(Some(backup))
    }
    None => {
      hostfile::create(path, hostfile::to_host_json(map, true).as_bytes()).map_err(|e| fail("create", e))?;
      Ok(None)
    }
  }
}
