//! Device login with its JS callbacks, logout, and the login UI helpers (QR code, browser).

use super::auth::{model_list, ModelInfo};
use super::identity::{identity_summary, IdentitySummary};
use super::options::settings;
use super::{cancel_of, spawn_coded, sync, CancelToken};
use crate::{auth, oauth};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;

type Callback<T> = ThreadsafeFunction<T, (), T, Status, false>;

#[napi]
pub fn render_qr(text: String) -> Option<String> {
  crate::qr::render(&text)
}

/// Opens an http(s) URL in the user's browser without a shell; false when no browser could be
/// started. Any other scheme is refused with `KIMI_BAD_INPUT`.
#[napi]
pub fn open_browser(env: Env, url: String) -> napi::Result<bool> {
  sync(&env, || crate::browser::open(&url))
}

/// What the user needs to approve the login: shown by the host, with the QR code of
/// `verificationUriComplete`.
#[napi(object, use_nullable = true)]
pub struct DeviceCode {
  pub user_code: String,
  pub verification_uri: String,
  pub verification_uri_complete: String,
  pub expires_in: Option<f64>,
  pub interval: f64,
  /// The OAuth server this login is with.
  pub oauth_host: String,
  /// Set when that server is not Kimi's: show it with the code.
  pub notice: Option<String>,
}

/// A change in the login's polling: `slow_down` (with the new interval) or `restart`.
#[napi(object, use_nullable = true)]
pub struct LoginEvent {
  pub kind: String,
  pub interval: Option<f64>,
}

struct JsLoginEvents {
  on_code: Option<Arc<Callback<DeviceCode>>>,
  on_event: Option<Arc<Callback<LoginEvent>>>,
}

impl auth::LoginEvents for JsLoginEvents {
  fn device_code(&self, code: &oauth::DeviceAuthorization, oauth_host: &str, notice: Option<&str>) {
    if let Some(cb) = &self.on_code {
      let v = DeviceCode {
        user_code: code.user_code.clone(),
        verification_uri: code.verification_uri.clone(),
        verification_uri_complete: code.verification_uri_complete.clone(),
        expires_in: code.expires_in,
        interval: code.interval as f64,
        oauth_host: oauth_host.into(),
        notice: notice.map(Into::into),
      };
      cb.call(v, ThreadsafeFunctionCallMode::NonBlocking);
    }
  }
  fn event(&self, kind: &str, interval: Option<u64>) {
    if let Some(cb) = &self.on_event {
      let v = LoginEvent {
        kind: kind.into(),
        interval: interval.map(|i| i as f64),
      };
      cb.call(v, ThreadsafeFunctionCallMode::NonBlocking);
    }
  }
}

#[napi(object, use_nullable = true)]
pub struct LoginResult {
  /// `kimi-native`.
  pub source: String,
  #[napi(ts_type = "'keychain' | 'file'")]
  pub store: String,
  pub store_reason: String,
  pub expires_at: f64,
  pub models: Vec<ModelInfo>,
  /// Set when the login worked but something deserves attention.
  pub warning: Option<String>,
  /// Set when the OAuth server is not Kimi's.
  pub notice: Option<String>,
  /// The OAuth server the login is with.
  pub oauth_host: String,
  /// The identity profile the login used.
  pub profile: String,
  /// The identity requests carry.
  pub identity: IdentitySummary,
}

#[napi(
  ts_args_type = "options: any | undefined | null, onDeviceCode?: ((code: DeviceCode) => void) | undefined | null, onEvent?: ((event: LoginEvent) => void) | undefined | null, cancel?: CancelToken | undefined | null"
)]
pub fn login(
  env: Env,
  options: Option<Value>,
  on_device_code: Option<Callback<DeviceCode>>,
  on_event: Option<Callback<LoginEvent>>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<LoginResult>> {
  let cancel = cancel_of(cancel);
  let events = JsLoginEvents {
    on_code: on_device_code.map(Arc::new),
    on_event: on_event.map(Arc::new),
  };
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let out = auth::login(&s, &events, &cancel).await?;
    Ok(LoginResult {
      source: "kimi-native".into(),
      store: out.store.into(),
      store_reason: out.store_reason,
      expires_at: out.expires_at,
      models: model_list(out.models),
      warning: out.warning,
      notice: out.notice,
      oauth_host: s.oauth_host.clone(),
      profile: s.profile.as_str().into(),
      identity: identity_summary(&s),
    })
  })
}

#[napi(object)]
pub struct LogoutResult {
  /// Whether a stored login was removed.
  pub removed: bool,
}

#[napi]
pub fn logout(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<LogoutResult>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    Ok(LogoutResult {
      removed: auth::logout(&s).await?,
    })
  })
}
