//! Claude Code setup (`setup claude-code`) and the hosts `status` reports as set up.

use super::options::settings;
use super::{spawn_coded, to_json};
use crate::config::{self, Settings};
use crate::error::KimiError;
use crate::{auth, claude_code};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

/// The hosts whose configuration points at kimi-native (for `status`), read off the JS thread.
pub(super) async fn configured_hosts(s: &Settings) -> Value {
  let s = s.clone();
  let cwd = std::env::current_dir().ok();
  let found = auth::blocking(move || {
    Ok(claude_code::configured(
      &s,
      &claude_code::Paths::from_process(),
      cwd.as_deref(),
    ))
  });
  to_json(&found.await.unwrap_or_default())
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
#[napi(ts_return_type = "Promise<any>")]
pub fn setup_claude_code(env: Env, options: Option<Value>, args: Value) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
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
        return auth::blocking(move || claude_code::remove(&s, &paths, &scope, dry).map(|o| to_json(&o))).await;
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
      let out = auth::blocking(move || match a.action.as_str() {
        "plan" => claude_code::plan(&paths, &scope, &want, &config::ProcessEnv).map(|p| to_json(&p)),
        "apply" => claude_code::apply(&s, &paths, &scope, &want, &a.remove, &config::ProcessEnv).map(|o| to_json(&o)),
        other => Err(KimiError::bad_input(format!("Unknown setup action {other:?}."))),
      })
      .await?;
      let mut out = out;
      if let Some(obj) = out.as_object_mut() {
        obj.insert("modelsFromAccount".into(), json!(from_account));
      }
      Ok(out)
    },
    |_, v| Ok(v),
  )
}
