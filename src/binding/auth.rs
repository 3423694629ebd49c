//! Login state and tokens: status, access tokens, the refreshes in flight, models, usage, and
//! the token handed to other programs' key commands.

use super::claude_code::configured_hosts;
use super::identity::identity_summary;
use super::options::settings;
use super::{spawn_coded, to_json};
use crate::config::{self, Options, Settings};
use crate::constants as c;
use crate::error::KimiError;
use crate::{auth, identity, usage};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

#[napi(ts_return_type = "Promise<any>")]
pub fn status(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let r = auth::status(&s).await?;
      Ok(json!({
        "loggedIn": r.logged_in,
        "source": r.source,
        "store": r.store,
        "storeReason": r.store_reason,
        "expiresAt": r.expires_at,
        "profile": s.profile.as_str(),
        "identity": identity_summary(&s),
        "warning": identity::official_warning(&s),
        "model": r.model.as_ref().map(to_json),
        "reloginRequired": r.relogin_required,
        "reloginReason": r.relogin_reason,
        "untrustedOrigin": r.untrusted_origin,
        "unsaved": r.unsaved,
        "oauthHost": s.oauth_host,
        "baseUrl": s.base_url,
        "home": s.home.to_string_lossy(),
        "hosts": configured_hosts(&s).await,
      }))
    },
    |_, v| Ok(v),
  )
}

#[napi(ts_return_type = "Promise<string>")]
pub fn get_access_token(env: Env, options: Option<Value>, force: Option<bool>) -> napi::Result<AsyncBlock<String>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let grant = if force.unwrap_or(false) {
        auth::forced_token(&s).await?
      } else {
        auth::access_token(&s).await?
      };
      Ok(grant.token)
    },
    |_, v| Ok(v),
  )
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
  spawn_coded(
    &env,
    async {
      auth::refreshes_settled().await;
      Ok(())
    },
    |_, v| Ok(v),
  )
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

#[napi(ts_return_type = "Promise<any[]>")]
pub fn models(env: Env, options: Option<Value>, refresh: Option<bool>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      Ok(to_json(&auth::list_models(&s, refresh.unwrap_or(false)).await?))
    },
    |_, v| Ok(v),
  )
}

#[napi(ts_return_type = "Promise<any>")]
pub fn usage(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let raw = auth::usage(&s).await?;
      Ok(json!({"windows": to_json(&usage::parse_usage(&raw)), "raw": raw}))
    },
    |_, v| Ok(v),
  )
}

// ---- key commands and host setup (issue #22) ----------------------------------------------------

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TokenArgs {
  min_valid_secs: Option<f64>,
  caller: Option<String>,
}

/// A token for another program's key command (`kimi-native token`): valid for at least
/// `minValidSecs`, and never one the server refused when the same caller asks again.
#[napi(ts_return_type = "Promise<{ token: string; expiresAt: number | null; source: string }>")]
pub fn hand_out_token(env: Env, options: Option<Value>, args: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a: TokenArgs = match args {
        None | Some(Value::Null) => TokenArgs::default(),
        Some(v) => {
          serde_json::from_value(v).map_err(|e| KimiError::bad_input(format!("Invalid token options: {e}.")))?
        }
      };
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
      Ok(json!({"token": g.token, "expiresAt": g.expires_at, "source": g.source.as_str()}))
    },
    |_, v| Ok(v),
  )
}
