//! Device login with its JS callbacks, logout, and the login UI helpers (QR code, browser).

use super::identity::identity_summary;
use super::options::settings;
use super::{cancel_of, spawn_coded, sync, to_json, CancelToken};
use crate::{auth, oauth};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};
use std::sync::Arc;

type Callback = ThreadsafeFunction<Value, (), Value, Status, false>;

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

struct JsLoginEvents {
  on_code: Option<Arc<Callback>>,
  on_event: Option<Arc<Callback>>,
}

impl auth::LoginEvents for JsLoginEvents {
  fn device_code(&self, code: &oauth::DeviceAuthorization, oauth_host: &str, notice: Option<&str>) {
    if let Some(cb) = &self.on_code {
      let v = json!({
        "userCode": code.user_code,
        "verificationUri": code.verification_uri,
        "verificationUriComplete": code.verification_uri_complete,
        "expiresIn": code.expires_in,
        "interval": code.interval,
        "oauthHost": oauth_host,
        "notice": notice,
      });
      cb.call(v, ThreadsafeFunctionCallMode::NonBlocking);
    }
  }
  fn event(&self, kind: &str, interval: Option<u64>) {
    if let Some(cb) = &self.on_event {
      cb.call(
        json!({"kind": kind, "interval": interval}),
        ThreadsafeFunctionCallMode::NonBlocking,
      );
    }
  }
}

#[napi(
  ts_args_type = "options: any | undefined | null, onDeviceCode?: ((code: any) => void) | undefined | null, onEvent?: ((event: any) => void) | undefined | null, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<any>"
)]
pub fn login(
  env: Env,
  options: Option<Value>,
  on_device_code: Option<Callback>,
  on_event: Option<Callback>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  let cancel = cancel_of(cancel);
  let events = JsLoginEvents {
    on_code: on_device_code.map(Arc::new),
    on_event: on_event.map(Arc::new),
  };
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let out = auth::login(&s, &events, &cancel).await?;
      Ok(json!({
        "source": "kimi-native",
        "store": out.store,
        "storeReason": out.store_reason,
        "expiresAt": out.expires_at,
        "models": to_json(&out.models),
        "warning": out.warning,
        "notice": out.notice,
        "oauthHost": s.oauth_host,
        "profile": s.profile.as_str(),
        "identity": identity_summary(&s),
      }))
    },
    |_, v| Ok(v),
  )
}

#[napi(ts_return_type = "Promise<{ removed: boolean }>")]
pub fn logout(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      Ok(json!({"removed": auth::logout(&s).await?}))
    },
    |_, v| Ok(v),
  )
}
