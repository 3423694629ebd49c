//! Setting up and undoing: `apply` merges the wanted keys into the file (and drops the static
//! keys the user agreed to), recording what it changed; `remove` puts back what was there.

use super::desired::Entry;
use super::file::{get, read_object, set, unset, write_back};
use super::plan::{plan_of, Change};
use super::record::{read_record, record_key, shareable, write_record, FileRecord, RecordedEntry};
use super::{Paths, Scope};
use crate::config::{EnvSource, Settings};
use crate::constants as c;
use crate::error::{KimiError, Result};
use crate::import::hostfile;
use serde::Serialize;
use serde_json::Value;

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

#[cfg(test)]
mod tests {
  use super::super::record::record_path;
  use super::super::tests::{no_env, setup, HELPER};
  use super::super::{configured, desired, plan};
  use super::*;
  use crate::constants::env;

  #[test]
  fn apply_keeps_every_other_key_and_remove_restores_the_bytes() {
    let (dir, settings, paths) = setup();
    let file = paths.settings_file(&Scope::User).unwrap();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let original = "{\n  \"permissions\": {\n    \"allow\": [\n      \"Bash(ls:*)\"\n    ]\n  },\n  \"env\": {\n    \"FOO\": \"1\",\n    \"ANTHROPIC_MODEL\": \"claude-opus\",\n    \"ANTHROPIC_API_KEY\": \"sk-kimi-fake-SECRET-not-real\"\n  },\n  \"model\": \"opus\"\n}\n";
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
      "{\"env\":{\"ANTHROPIC_AUTH_TOKEN\":\"sk-kimi-fake-SECRET-not-real\"}}",
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
}
