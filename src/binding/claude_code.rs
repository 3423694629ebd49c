//! Claude Code setup (`setup claude-code`) and the hosts `status` reports as set up.

use super::options::settings;
use super::spawn_coded;
use crate::config::{self, Settings};
use crate::error::KimiError;
use crate::{auth, claude_code, task};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// A host's settings file whose key command runs `kimi-native token`.
#[napi(object)]
pub struct ConfiguredHost {
  #[napi(ts_type = "'claude-code'")]
  pub host: String,
  pub file: String,
}

/// The hosts whose configuration points at kimi-native (for `status`), read off the JS thread.
pub(super) async fn configured_hosts(s: &Settings) -> Vec<ConfiguredHost> {
  let s = s.clone();
  let cwd = std::env::current_dir().ok();
  let found = task::blocking(move || {
    Ok(claude_code::configured(
      &s,
      &claude_code::Paths::from_process(),
      cwd.as_deref(),
    ))
  });
  let found = found.await.unwrap_or_default();
  found
    .into_iter()
    .map(|c| ConfiguredHost {
      host: c.host.into(),
      file: c.file,
    })
    .collect()
}

/// One key of the settings file and what setup does to it.
#[napi(object, use_nullable = true)]
pub struct SettingChange {
  pub key: String,
  #[napi(ts_type = "'add' | 'replace' | 'same' | 'remove'")]
  pub action: String,
  pub from: Option<String>,
  pub to: String,
}

/// A key the helper replaces (a static key): removed when the user agrees. No value in it.
#[napi(object)]
pub struct SettingConflict {
  pub key: String,
  pub reason: String,
}

fn changes(list: Vec<claude_code::Change>) -> Vec<SettingChange> {
  list
    .into_iter()
    .map(|c| SettingChange {
      key: c.key,
      action: c.action.into(),
      from: c.from,
      to: c.to,
    })
    .collect()
}

/// What `setup claude-code` would change (action `plan`).
#[napi(object)]
pub struct SetupPlan {
  pub host: String,
  pub file: String,
  pub exists: bool,
  pub changes: Vec<SettingChange>,
  pub conflicts: Vec<SettingConflict>,
  /// Things outside the file the user should know (a key in the shell environment).
  pub notes: Vec<String>,
  /// False when the account's model list could not be read and the default model is used.
  pub models_from_account: bool,
}

impl SetupPlan {
  fn new(p: claude_code::Plan, models_from_account: bool) -> Self {
    SetupPlan {
      host: p.host.into(),
      file: p.file,
      exists: p.exists,
      changes: changes(p.changes),
      conflicts: p
        .conflicts
        .into_iter()
        .map(|c| SettingConflict {
          key: c.key,
          reason: c.reason,
        })
        .collect(),
      notes: p.notes,
      models_from_account,
    }
  }
}

/// What `apply`, `plan-remove` or `remove` did (or would do).
#[napi(object)]
pub struct SetupOutcome {
  pub host: String,
  pub file: String,
  pub changed: bool,
  pub backup: Either<String, Null>,
  pub changes: Vec<SettingChange>,
  /// Keys removed (setup: the static keys the user agreed to drop).
  pub removed: Vec<String>,
  /// Keys left alone because they changed since setup, values only in a backup.
  pub notes: Vec<String>,
  /// `apply` only: false when the account's model list could not be read.
  pub models_from_account: Option<bool>,
}

impl SetupOutcome {
  fn new(o: claude_code::Outcome, models_from_account: Option<bool>) -> Self {
    SetupOutcome {
      host: o.host.into(),
      file: o.file,
      changed: o.changed,
      backup: o.backup.map_or(Either::B(Null), Either::A),
      changes: changes(o.changes),
      removed: o.removed,
      notes: o.notes,
      models_from_account,
    }
  }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SetupArgs {
  /// `plan`, `apply`, `plan-remove` or `remove`.
  action: String,
  /// A project directory for `.claude/settings.local.json`; the user's settings otherwise.
  project: Option<String>,
  /// The helper command (the CLI builds it: it knows where this package is installed).
  helper: Option<String>,
  /// Conflicting static keys the user agreed to remove.
  remove: Vec<String>,
}

/// `setup claude-code`: plans or applies the settings change, or plans or applies its undo.
#[napi]
pub fn setup_claude_code(
  env: Env,
  options: Option<Value>,
  args: Value,
) -> napi::Result<AsyncBlock<Either<SetupPlan, SetupOutcome>>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let a: SetupArgs =
      serde_json::from_value(args).map_err(|e| KimiError::bad_input(format!("Invalid setup options: {e}.")))?;
    let scope = match &a.project {
      Some(dir) => claude_code::Scope::Project(std::path::PathBuf::from(dir)),
      None => claude_code::Scope::User,
    };
    let paths = claude_code::Paths::from_process();
    if a.action == "plan-remove" || a.action == "remove" {
      let dry = a.action == "plan-remove";
      return task::blocking(move || {
        claude_code::remove(&s, &paths, &scope, dry).map(|o| Either::B(SetupOutcome::new(o, None)))
      })
      .await;
    }
    let helper = a
      .helper
      .filter(|h| !h.trim().is_empty())
      .ok_or_else(|| KimiError::bad_input("setup needs the helper command."))?;
    // The account's models; without a login (or offline) the plan's default model.
    let (models, from_account) = match auth::list_models(&s, false).await {
      Ok(list) if !list.is_empty() => (list, true),
      _ => (Vec::new(), false),
    };
    let want = claude_code::desired(&s, &helper, &models);
    task::blocking(move || match a.action.as_str() {
      "plan" => claude_code::plan(&paths, &scope, &want, &config::ProcessEnv)
        .map(|p| Either::A(SetupPlan::new(p, from_account))),
      "apply" => claude_code::apply(&s, &paths, &scope, &want, &a.remove, &config::ProcessEnv)
        .map(|o| Either::B(SetupOutcome::new(o, Some(from_account)))),
      other => Err(KimiError::bad_input(format!("Unknown setup action {other:?}."))),
    })
    .await
  })
}
