//! `kimi-native setup claude-code` (issue #22): Claude Code's settings file gets an
//! `apiKeyHelper` that runs `kimi-native token`, the Anthropic base of the configured API, the
//! account's models and the helper TTL, merged into what is there. Every other key is kept,
//! the file is backed up first (0600) and rewritten atomically with its permissions, a file
//! that is not a JSON object is refused untouched, and what was set is recorded in kimi-native's
//! home (values that are not secrets only) so `--remove` can undo exactly that.
//!
//! Keys (Claude Code 2.1.332, read from its binary and docs; docs/claude-code.md): `apiKeyHelper`
//! (a `/bin/sh` command whose stdout is sent as `x-api-key` and as bearer), and in `env`:
//! `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`, the model of each alias (`ANTHROPIC_DEFAULT_*_MODEL`,
//! which replaced `ANTHROPIC_SMALL_FAST_MODEL`), `CLAUDE_CODE_MAX_CONTEXT_TOKENS` (the window of
//! a model it does not know) and `CLAUDE_CODE_API_KEY_HELPER_TTL_MS`.

use crate::config::{EnvSource, Settings};
use crate::constants::{self as c, env};
use crate::error::{KimiError, Result};
use crate::import::{hostfile, parse};
use crate::models::ModelInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Which settings file: the user's, or a project's personal one (not committed).
#[derive(Debug, Clone)]
pub enum Scope {
  User,
  Project(PathBuf),
}

/// Where Claude Code keeps its user settings (`CLAUDE_CONFIG_DIR`, else `~/.claude`).
#[derive(Debug, Clone, Default)]
pub struct Paths {
  pub config_dir: Option<PathBuf>,
}

impl Paths {
  pub fn resolve(env_source: &dyn EnvSource, home: Option<&Path>) -> Paths {
    let config_dir = env_source
      .var(env::CLAUDE_CONFIG_DIR)
      .map(PathBuf::from)
      .or_else(|| home.map(|h| h.join(c::CLAUDE_CODE_DIR)));
    Paths { config_dir }
  }

  pub fn from_process() -> Paths {
    Paths::resolve(&crate::config::ProcessEnv, crate::config::home_dir().as_deref())
  }

  pub fn settings_file(&self, scope: &Scope) -> Result<PathBuf> {
    match scope {
      Scope::User => self
        .config_dir
        .as_ref()
        .map(|d| d.join(c::CLAUDE_CODE_SETTINGS_FILE))
        .ok_or_else(|| KimiError::bad_input("No home directory found: set CLAUDE_CONFIG_DIR.")),
      Scope::Project(dir) => Ok(dir.join(c::CLAUDE_CODE_DIR).join(c::CLAUDE_CODE_LOCAL_SETTINGS_FILE)),
    }
  }
}

/// One key kimi-native sets, as a dotted path (`apiKeyHelper`, `env.ANTHROPIC_MODEL`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
  pub key: String,
  pub value: String,
}

fn env_key(name: &str) -> String {
  format!("env.{name}")
}

/// What setup writes: the helper, the API base, the account's default model for the main model
/// and every alias, its context window, and the helper TTL. Claude Code reads `env` values as
/// strings only.
pub fn desired(settings: &Settings, helper: &str, models: &[ModelInfo]) -> Vec<Entry> {
  let (model, context) = match crate::models::default_model(models) {
    // A list without a window (Python's tolerance makes it 0) gets the plan's.
    Some(m) => (
      m.id.clone(),
      if m.context_length > 0 {
        m.context_length
      } else {
        c::DEFAULT_CONTEXT_LENGTH
      },
    ),
    None => (c::DEFAULT_MODEL.to_string(), c::DEFAULT_CONTEXT_LENGTH),
  };
  let mut out = vec![
    Entry {
      key: "apiKeyHelper".into(),
      value: helper.to_string(),
    },
    Entry {
      key: env_key(env::ANTHROPIC_BASE_URL),
      value: crate::anthropic::sdk_base_url(&settings.base_url),
    },
    Entry {
      key: env_key(env::ANTHROPIC_MODEL),
      value: model.clone(),
    },
  ];
  for alias in env::ANTHROPIC_ALIAS_MODELS {
    out.push(Entry {
      key: env_key(alias),
      value: model.clone(),
    });
  }
  out.push(Entry {
    key: env_key(env::CLAUDE_MAX_CONTEXT_TOKENS),
    value: context.to_string(),
  });
  out.push(Entry {
    key: env_key(env::CLAUDE_HELPER_TTL_MS),
    value: c::CLAUDE_CODE_HELPER_TTL_MS.to_string(),
  });
  out
}

fn split(key: &str) -> (Option<&str>, &str) {
  match key.split_once('.') {
    Some((parent, name)) => (Some(parent), name),
    None => (None, key),
  }
}

fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
  match split(key) {
    (Some(parent), name) => map.get(parent).and_then(|v| v.as_object()).and_then(|o| o.get(name)),
    (None, name) => map.get(name),
  }
}

/// Sets a key in place (an existing key keeps its position; a new one goes last).
fn set(map: &mut Map<String, Value>, key: &str, value: &str) {
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

fn unset(map: &mut Map<String, Value>, key: &str) {
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

/// A value worth keeping in the record: no key, no token-looking word, no URL credentials.
fn shareable(v: &str) -> bool {
  !v.contains("sk-") && crate::error::redact(v) == v && !v.contains('@')
}

/// The file's JSON object, or an empty one for a file that does not exist yet. A file that is
/// not a JSON object, or whose `env` / `apiKeyHelper` has another type, is refused.
fn read_object(path: &Path) -> Result<(Option<String>, Map<String, Value>)> {
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

fn plan_of(path: &Path, exists: bool, map: &Map<String, Value>, want: &[Entry], env_source: &dyn EnvSource) -> Plan {
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

/// kimi-native's record of one file it set up: enough to undo exactly that.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct FileRecord {
  /// The file did not exist before setup.
  created: bool,
  /// `env` did not exist before setup.
  env_created: bool,
  entries: Vec<RecordedEntry>,
  /// Static keys removed at the user's request (their values are only in the backup).
  removed: Vec<String>,
  backup: Option<String>,
  at: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RecordedEntry {
  key: String,
  value: String,
  /// The value before setup, when there was one and it is not a secret.
  previous: Option<String>,
  /// There was a value before setup that looked like a secret: it is only in the backup.
  previous_in_backup: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Record {
  files: std::collections::BTreeMap<String, FileRecord>,
}

fn record_path(settings: &Settings) -> PathBuf {
  settings.home.join(c::SETUP_RECORD_FILE)
}

fn read_record(settings: &Settings) -> Record {
  std::fs::read_to_string(record_path(settings))
    .ok()
    .and_then(|t| serde_json::from_str(&t).ok())
    .unwrap_or_default()
}

fn write_record(settings: &Settings, record: &Record) -> Result<()> {
  let text = serde_json::to_vec_pretty(record).map_err(|e| KimiError::internal(e.to_string()))?;
  crate::store::file::write_atomic(&record_path(settings), &text)
    .map_err(|e| KimiError::store(format!("Cannot write {}: {e}.", record_path(settings).display())))
}

/// The file's key for the record: its real path when it exists (a dotfile link is followed).
fn record_key(path: &Path) -> String {
  hostfile::real(path)
    .unwrap_or_else(|_| path.to_path_buf())
    .display()
    .to_string()
}

/// Writes `map` to `path` (backing up an existing file first); returns the backup's path.
fn write_back(path: &Path, existed: Option<&str>, map: &Map<String, Value>) -> Result<Option<PathBuf>> {
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

/// What `apply` or `remove` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
  pub host: &'static str,
  pub file: String,
  pub changed: bool,
  pub backup: Option<String>,
  pub changes: Vec<Change>,
  /// Keys removed (setup: the static keys the user agreed to drop).
  pub removed: Vec<String>,
  /// What the user should know: keys left alone because they changed since setup, values
  /// that are only in a backup.
  pub notes: Vec<String>,
}

/// Merges `want` into the file of `scope` and removes the conflicting keys named in
/// `remove` (only keys the plan reports as conflicts).
pub fn apply(
  settings: &Settings,
  paths: &Paths,
  scope: &Scope,
  want: &[Entry],
  remove: &[String],
  env_source: &dyn EnvSource,
) -> Result<Outcome> {
  let path = paths.settings_file(scope)?;
  let (text, mut map) = read_object(&path)?;
  let plan = plan_of(&path, text.is_some(), &map, want, env_source);
  let removed: Vec<String> = plan
    .conflicts
    .iter()
    .filter(|cf| remove.contains(&cf.key))
    .map(|cf| cf.key.clone())
    .collect();
  let mut outcome = Outcome {
    host: c::CLAUDE_CODE_HOST,
    file: plan.file.clone(),
    changed: false,
    backup: None,
    changes: plan.changes.clone(),
    removed: removed.clone(),
    notes: plan.notes.clone(),
  };
  if plan.changes.iter().all(|ch| ch.action == "same") && removed.is_empty() {
    return Ok(outcome);
  }
  let key = record_key(&path);
  let mut record = read_record(settings);
  let before = record.files.get(&key).cloned().unwrap_or_default();
  let mut file = FileRecord {
    created: text.is_none() || before.created,
    env_created: map.get("env").is_none() || before.env_created,
    removed: before.removed.clone(),
    ..Default::default()
  };
  for e in want {
    let current = get(&map, &e.key).map(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()));
    // Run twice: the value before the first run stays the one to restore.
    let earlier = before
      .entries
      .iter()
      .find(|r| r.key == e.key && Some(&r.value) == current.as_ref());
    let entry = match (earlier, current) {
      (Some(r), _) => RecordedEntry {
        value: e.value.clone(),
        ..r.clone()
      },
      (None, None) => RecordedEntry {
        key: e.key.clone(),
        value: e.value.clone(),
        ..Default::default()
      },
      (None, Some(old)) => RecordedEntry {
        key: e.key.clone(),
        value: e.value.clone(),
        previous_in_backup: !shareable(&old),
        previous: shareable(&old).then_some(old),
      },
    };
    file.entries.push(entry);
    set(&mut map, &e.key, &e.value);
  }
  for k in &removed {
    unset(&mut map, k);
    if !file.removed.contains(k) {
      file.removed.push(k.clone());
    }
  }
  let backup = write_back(&path, text.as_deref(), &map)?;
  file.backup = backup.as_ref().map(|b| b.display().to_string()).or(before.backup);
  file.at = crate::token::now_secs();
  record.files.insert(key, file);
  if let Err(e) = write_record(settings, &record) {
    outcome.notes.push(format!(
      "The record of this change could not be saved ({}), so `setup claude-code --remove` cannot undo it: the backup is the way back.",
      e.message
    ));
  }
  outcome.changed = true;
  outcome.backup = backup.map(|b| b.display().to_string());
  Ok(outcome)
}

/// Undoes what setup set in the file of `scope`: each key still holding the value setup wrote
/// gets its earlier value back (or goes); a key changed since is left as it is.
pub fn remove(settings: &Settings, paths: &Paths, scope: &Scope, dry_run: bool) -> Result<Outcome> {
  let path = paths.settings_file(scope)?;
  let key = record_key(&path);
  let mut record = read_record(settings);
  let mut outcome = Outcome {
    host: c::CLAUDE_CODE_HOST,
    file: path.display().to_string(),
    changed: false,
    backup: None,
    changes: vec![],
    removed: vec![],
    notes: vec![],
  };
  let Some(file) = record.files.get(&key).cloned() else {
    outcome.notes.push(format!(
      "kimi-native has no record of setting up {}: nothing to undo.",
      path.display()
    ));
    return Ok(outcome);
  };
  let (text, mut map) = read_object(&path)?;
  if text.is_none() {
    outcome.notes.push(format!("{} no longer exists.", path.display()));
  }
  for e in &file.entries {
    match get(&map, &e.key) {
      Some(Value::String(s)) if *s == e.value => {}
      Some(_) => {
        outcome
          .notes
          .push(format!("{} was changed since setup; left as it is.", e.key));
        continue;
      }
      None => continue,
    }
    match &e.previous {
      Some(p) => set(&mut map, &e.key, p),
      None => unset(&mut map, &e.key),
    }
    if e.previous_in_backup {
      outcome.notes.push(format!(
        "{} held a value before setup that looked like a secret; kimi-native keeps none, so it is only in {}.",
        e.key,
        file.backup.as_deref().unwrap_or("the backup")
      ));
    }
    outcome.changes.push(Change {
      key: e.key.clone(),
      action: if e.previous.is_some() { "replace" } else { "remove" },
      from: Some(e.value.clone()),
      to: e.previous.clone().unwrap_or_default(),
    });
  }
  for k in &file.removed {
    outcome.notes.push(format!(
      "{k} was removed by setup at your request; its value is only in {} (kimi-native keeps no secrets).",
      file.backup.as_deref().unwrap_or("the backup")
    ));
  }
  if file.env_created && map.get("env").and_then(|v| v.as_object()).is_some_and(|o| o.is_empty()) {
    map.shift_remove("env");
  }
  if dry_run {
    outcome.changed = !outcome.changes.is_empty();
    return Ok(outcome);
  }
  if let Some(text) = text.as_deref().filter(|_| !outcome.changes.is_empty()) {
    if file.created && map.is_empty() {
      // The file was setup's own: removing it is the original state.
      let real = hostfile::real(&path).unwrap_or_else(|_| path.clone());
      outcome.backup = Some(
        hostfile::backup(&real)
          .map_err(|e| KimiError::store(format!("Cannot back up {}: {e}. Nothing was changed.", path.display())))?
          .display()
          .to_string(),
      );
      std::fs::remove_file(&real).map_err(|e| KimiError::store(format!("Cannot remove {}: {e}.", path.display())))?;
    } else {
      outcome.backup = write_back(&path, Some(text), &map)?.map(|b| b.display().to_string());
    }
    outcome.changed = true;
  }
  record.files.remove(&key);
  write_record(settings, &record)?;
  Ok(outcome)
}

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
  use crate::config::Options;

  // A checkout's path need not name kimi-native: status recognises it through the record.
  const HELPER: &str = "'/usr/bin/node' '/src/checkout/lib/cli.js' token --caller \"$PPID\"";

  fn setup() -> (tempfile::TempDir, Settings, Paths) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("kn");
    let opts = Options {
      home: Some(home.to_string_lossy().into_owned()),
      base_url: Some("http://127.0.0.1:9/coding/v1".into()),
      ..Default::default()
    };
    let settings = Settings::resolve_with(&opts, &|_: &str| None).unwrap();
    let paths = Paths {
      config_dir: Some(dir.path().join("claude")),
    };
    (dir, settings, paths)
  }

  fn no_env(_: &str) -> Option<String> {
    None
  }

  #[test]
  fn desired_keys_follow_the_account_and_the_configured_base() {
    let (_d, settings, _) = setup();
    let models = vec![ModelInfo {
      id: "kimi-k9".into(),
      context_length: 131072,
      ..Default::default()
    }];
    let want = desired(&settings, HELPER, &models);
    let value = |k: &str| want.iter().find(|e| e.key == k).map(|e| e.value.as_str());
    assert_eq!(value("apiKeyHelper"), Some(HELPER));
    assert_eq!(value("env.ANTHROPIC_BASE_URL"), Some("http://127.0.0.1:9/coding"));
    assert_eq!(value("env.ANTHROPIC_MODEL"), Some("kimi-k9"));
    assert_eq!(value("env.ANTHROPIC_DEFAULT_HAIKU_MODEL"), Some("kimi-k9"));
    assert_eq!(value("env.CLAUDE_CODE_MAX_CONTEXT_TOKENS"), Some("131072"));
    assert_eq!(value("env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS"), Some("300000"));
    // No account list (not logged in): the plan's default model and window.
    let fallback = desired(&settings, HELPER, &[]);
    assert!(fallback.iter().any(|e| e.value == c::DEFAULT_MODEL));
  }

  #[test]
  fn apply_keeps_every_other_key_and_remove_restores_the_bytes() {
    let (dir, settings, paths) = setup();
    let file = paths.settings_file(&Scope::User).unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let original = "{\n  \"permissions\": {\n    \"allow\": [\n      \"Bash(ls:*)\"\n    ]\n  },\n  \"env\": {\n    \"FOO\": \"1\",\n    \"ANTHROPIC_MODEL\": \"claude-opus\",\n    \"ANTHROPIC_API_KEY\": \"sk-kimi-SECRET0123456789\"\n  },\n  \"model\": \"opus\"\n}\n";
    std::fs::write(&file, original).unwrap();
    let want = desired(&settings, HELPER, &[]);
    let p = plan(&paths, &Scope::User, &want, &no_env).unwrap();
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].key, "env.ANTHROPIC_API_KEY");
    let replaced = p.changes.iter().find(|ch| ch.key == "env.ANTHROPIC_MODEL").unwrap();
    assert_eq!(
      (replaced.action, replaced.from.as_deref()),
      ("replace", Some("claude-opus"))
    );
    assert!(
      !serde_json::to_string(&p).unwrap().contains("SECRET"),
      "no secret in a plan"
    );

    // Keeping the key: everything else is kept, the key too.
    let out = apply(&settings, &paths, &Scope::User, &want, &[], &no_env).unwrap();
    assert!(out.changed && out.backup.is_some());
    assert_eq!(std::fs::read_to_string(out.backup.as_ref().unwrap()).unwrap(), original);
    let now: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(now["permissions"]["allow"][0], "Bash(ls:*)");
    assert_eq!(now["env"]["FOO"], "1");
    assert_eq!(now["model"], "opus");
    assert_eq!(now["apiKeyHelper"], HELPER);
    assert_eq!(now["env"]["ANTHROPIC_MODEL"], c::DEFAULT_MODEL);
    // A second run changes nothing and keeps the first run's "before" values.
    assert!(
      !apply(&settings, &paths, &Scope::User, &want, &[], &no_env)
        .unwrap()
        .changed
    );
    let record = std::fs::read_to_string(record_path(&settings)).unwrap();
    assert!(!record.contains("SECRET") && record.contains("claude-opus"));

    let undone = remove(&settings, &paths, &Scope::User, false).unwrap();
    assert!(undone.changed);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original, "byte for byte");
    assert!(read_record(&settings).files.is_empty());
    drop(dir);
  }

  #[test]
  fn a_removed_static_key_is_only_in_the_backup() {
    let (_dir, settings, paths) = setup();
    let file = paths.settings_file(&Scope::User).unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
      &file,
      "{\"env\":{\"ANTHROPIC_AUTH_TOKEN\":\"sk-kimi-SECRET0123456789\"}}",
    )
    .unwrap();
    let want = desired(&settings, HELPER, &[]);
    let out = apply(
      &settings,
      &paths,
      &Scope::User,
      &want,
      &["env.ANTHROPIC_AUTH_TOKEN".into()],
      &no_env,
    )
    .unwrap();
    assert_eq!(out.removed, ["env.ANTHROPIC_AUTH_TOKEN"]);
    assert!(!std::fs::read_to_string(&file).unwrap().contains("SECRET"));
    assert!(std::fs::read_to_string(out.backup.unwrap()).unwrap().contains("SECRET"));
    let undone = remove(&settings, &paths, &Scope::User, false).unwrap();
    assert!(undone
      .notes
      .iter()
      .any(|n| n.contains("ANTHROPIC_AUTH_TOKEN") && n.contains("only in")));
    // `env` was there before setup: it stays, emptied of the key the user let go.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\n  \"env\": {}\n}");
  }

  #[test]
  fn a_new_file_is_created_private_and_removed_again() {
    let (_dir, settings, paths) = setup();
    let project = tempfile::tempdir().unwrap();
    let scope = Scope::Project(project.path().to_path_buf());
    let want = desired(&settings, HELPER, &[]);
    let out = apply(&settings, &paths, &scope, &want, &[], &no_env).unwrap();
    assert!(out.changed && out.backup.is_none());
    let file = project.path().join(".claude/settings.local.json");
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(configured(&settings, &paths, None).len(), 1, "found through the record");
    remove(&settings, &paths, &scope, false).unwrap();
    assert!(!file.exists());
    assert!(configured(&settings, &paths, Some(project.path())).is_empty());
  }

  #[test]
  fn invalid_files_are_refused_untouched() {
    let (_dir, settings, paths) = setup();
    let file = paths.settings_file(&Scope::User).unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let want = desired(&settings, HELPER, &[]);
    for bad in ["{\"env\": {", "[1]", "{\"env\": \"x\"}", "{\"apiKeyHelper\": 3}"] {
      std::fs::write(&file, bad).unwrap();
      let err = apply(&settings, &paths, &Scope::User, &want, &[], &no_env).unwrap_err();
      assert_eq!(err.code, crate::error::Code::BadInput, "{bad}");
      assert!(err.message.contains("Nothing was changed"), "{}", err.message);
      assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
    }
    let leftovers = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "no backup, no temp file");
  }

  #[test]
  fn changed_keys_are_left_and_notes_name_the_environment() {
    let (_dir, settings, paths) = setup();
    let want = desired(&settings, HELPER, &[]);
    apply(&settings, &paths, &Scope::User, &want, &[], &no_env).unwrap();
    let file = paths.settings_file(&Scope::User).unwrap();
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["env"]["ANTHROPIC_MODEL"] = Value::String("mine".into());
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let out = remove(&settings, &paths, &Scope::User, false).unwrap();
    assert!(out
      .notes
      .iter()
      .any(|n| n.contains("ANTHROPIC_MODEL") && n.contains("changed")));
    let left: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(left, serde_json::json!({"env": {"ANTHROPIC_MODEL": "mine"}}));
    let shell = |k: &str| (k == env::ANTHROPIC_API_KEY).then(|| "sk-x".to_string());
    let p = plan(&paths, &Scope::User, &want, &shell).unwrap();
    assert!(p.notes[0].contains("ANTHROPIC_API_KEY") && !p.notes[0].contains("sk-x"));
  }

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
