//! Login state and tokens: status, access tokens, the refreshes in flight, models, usage, and
//! the token handed to other programs' key commands.

use super::claude_code::{configured_hosts, ConfiguredHost};
use super::identity::{identity_summary, IdentitySummary};
use super::options::{parse_args, settings};
use super::spawn_coded;
use crate::config::{self, Options, Settings};
use crate::constants as c;
use crate::error::KimiError;
use crate::{auth, identity, models, usage};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// A model of the account's `/models` list, as hosts configure it.
#[napi(object)]
pub struct ModelInfo {
  pub id: String,
  pub display_name: Option<String>,
  pub context_length: f64,
  pub supports_reasoning: bool,
  pub supports_image_in: bool,
  pub supports_video_in: bool,
  pub supports_tool_use: bool,
  /// `only`, `both` or `no` when the server says so.
  pub thinking_type: Option<String>,
  /// Valid effort levels when the model declares them.
  pub think_efforts: Option<Vec<String>>,
  pub default_effort: Option<String>,
  pub protocol: Option<String>,
}

impl From<models::ModelInfo> for ModelInfo {
  fn from(m: models::ModelInfo) -> Self {
    ModelInfo {
      id: m.id,
      display_name: m.display_name,
      context_length: m.context_length as f64,
      supports_reasoning: m.supports_reasoning,
      supports_image_in: m.supports_image_in,
      supports_video_in: m.supports_video_in,
      supports_tool_use: m.supports_tool_use,
      thinking_type: m.thinking_type,
      think_efforts: m.think_efforts,
      default_effort: m.default_effort,
      protocol: m.protocol,
    }
  }
}

pub(super) fn model_list(list: Vec<models::ModelInfo>) -> Vec<ModelInfo> {
  list.into_iter().map(Into::into).collect()
}

/// The login in force and where requests go; one shape logged in or not.
#[napi(object, use_nullable = true)]
pub struct Status {
  pub logged_in: bool,
  /// `kimi-native`, `env:KIMI_API_KEY`, `kimi-code`, `kimi-cli` or `none`.
  pub source: String,
  #[napi(ts_type = "'keychain' | 'file'")]
  pub store: String,
  pub store_reason: String,
  /// Epoch seconds, when a token is known.
  pub expires_at: Option<f64>,
  pub profile: String,
  /// The identity requests carry.
  pub identity: IdentitySummary,
  /// The guideline warning when an official-client profile is in use.
  pub warning: Option<String>,
  pub model: Option<ModelInfo>,
  pub relogin_required: bool,
  /// Why the stored login must be renewed (when `reloginRequired`).
  pub relogin_reason: Option<String>,
  /// Set when the options name a server that is not Kimi's and the environment does not.
  pub untrusted_origin: Option<String>,
  /// The login in force is held only in this process's memory: the store refused its write.
  pub unsaved: bool,
  pub oauth_host: String,
  pub base_url: String,
  /// kimi-native's own directory.
  pub home: String,
  /// Hosts set up to use this login, where kimi-native can tell.
  pub hosts: Vec<ConfiguredHost>,
}

#[napi]
pub fn status(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Status>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let r = auth::status(&s).await?;
    Ok(Status {
      logged_in: r.logged_in,
      source: r.source.into(),
      store: r.store.into(),
      store_reason: r.store_reason,
      expires_at: r.expires_at,
      profile: s.profile.as_str().into(),
      identity: identity_summary(&s),
      warning: identity::official_warning(&s),
      model: r.model.map(Into::into),
      relogin_required: r.relogin_required,
      relogin_reason: r.relogin_reason,
      untrusted_origin: r.untrusted_origin,
      unsaved: r.unsaved,
      oauth_host: s.oauth_host.clone(),
      base_url: s.base_url.clone(),
      home: s.home.to_string_lossy().into_owned(),
      hosts: configured_hosts(&s).await,
    })
  })
}

#[napi]
pub fn get_access_token(env: Env, options: Option<Value>, force: Option<bool>) -> napi::Result<AsyncBlock<String>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let grant = if force.unwrap_or(false) {
      auth::forced_token(&s).await?
    } else {
      auth::access_token(&s).await?
    };
    Ok(grant.token)
  })
}

/// Whether a token refresh is in flight in this process (cheap; the JS layer asks after each
/// call and then holds the event loop open with `refreshSettled()` until it is persisted).
#[napi]
pub fn refresh_pending() -> bool {
  auth::refreshes_pending() > 0
}

/// Resolves when no token refresh is in flight in this process.
#[napi(ts_return_type = "Promise<void>")]
pub fn refresh_settled(env: Env) -> napi::Result<AsyncBlock<()>> {
  spawn_coded(&env, async {
    auth::refreshes_settled().await;
    Ok(())
  })
}

/// Called by the JS `exit` hook (a host's `process.exit()`): no new token request goes out, and
/// the JS thread waits, bounded, until the refreshes already sent are persisted. Synchronous on
/// purpose: nothing else runs after `exit`, and the refreshes finish on the core's own threads.
/// Returns how many were not finished within the bound (0: nothing lost).
#[napi]
pub fn wait_before_exit() -> u32 {
  let keychain_timeout = Settings::resolve(&Options::default())
    .map(|s| s.keychain_timeout)
    .unwrap_or(std::time::Duration::from_millis(c::KEYCHAIN_TIMEOUT_MS));
  std::panic::catch_unwind(|| auth::wait_before_exit(auth::exit_bound(keychain_timeout))).map_or(0, |n| n as u32)
}

#[napi]
pub fn models(env: Env, options: Option<Value>, refresh: Option<bool>) -> napi::Result<AsyncBlock<Vec<ModelInfo>>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    Ok(model_list(auth::list_models(&s, refresh.unwrap_or(false)).await?))
  })
}

#[napi(object)]
pub struct UsageWindow {
  /// e.g. `weekly`, `5h`.
  pub label: String,
  pub duration_seconds: Option<f64>,
  pub used: f64,
  pub limit: f64,
  pub remaining: f64,
  pub reset_time: Option<String>,
}

impl From<usage::UsageWindow> for UsageWindow {
  fn from(w: usage::UsageWindow) -> Self {
    UsageWindow {
      label: w.label,
      duration_seconds: w.duration_seconds,
      used: w.used,
      limit: w.limit,
      remaining: w.remaining,
      reset_time: w.reset_time,
    }
  }
}

#[napi(object)]
pub struct Usage {
  pub windows: Vec<UsageWindow>,
  /// The server's reply as it came.
  pub raw: Value,
}

#[napi]
pub fn usage(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Usage>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let raw = auth::usage(&s).await?;
    let windows = usage::parse_usage(&raw).into_iter().map(Into::into).collect();
    Ok(Usage { windows, raw })
  })
}

// ---- key commands and host setup (issue #22) ----------------------------------------------------

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TokenArgs {
  min_valid_secs: Option<f64>,
  caller: Option<String>,
}

#[napi(object, use_nullable = true)]
pub struct HandedOutToken {
  pub token: String,
  /// Epoch seconds; null for `KIMI_API_KEY`.
  pub expires_at: Option<f64>,
  /// `kimi-native`, `env:KIMI_API_KEY`, `kimi-code` or `kimi-cli`.
  pub source: String,
}

/// A token for another program's key command (`kimi-native token`): valid for at least
/// `minValidSecs`, and never one the server refused when the same caller asks again.
#[napi]
pub fn hand_out_token(
  env: Env,
  options: Option<Value>,
  args: Option<Value>,
) -> napi::Result<AsyncBlock<HandedOutToken>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let a: TokenArgs = parse_args(args, "token options")?;
    let min_valid_secs = match a.min_valid_secs {
      None => c::TOKEN_MIN_VALID_SECS,
      Some(v) if v.is_finite() && v >= 0.0 => v,
      Some(_) => {
        return Err(KimiError::bad_input(
          "The minimum validity must be a duration of 0 or more.",
        ))
      }
    };
    let req = auth::HandOutRequest {
      min_valid_secs,
      caller: a.caller.as_deref().and_then(auth::caller_id),
      recall_secs: auth::caller_cache_secs(&config::ProcessEnv),
    };
    let g = auth::hand_out(&s, &req).await?;
    Ok(HandedOutToken {
      token: g.token,
      expires_at: g.expires_at,
      source: g.source.as_str().into(),
    })
  })
}
