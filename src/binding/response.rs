//! `kimiFetch` and the response whose body the JS ReadableStream reads.

use super::error::{js_error, panic_error};
use super::options::settings;
use super::shaping::node_buffer;
use super::{cancel_of, spawn_coded, CancelToken};
use crate::cancel::Cancel;
use crate::error::KimiError;
use crate::{fetch, pool};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchSpec {
  url: String,
  #[serde(default = "get")]
  method: String,
  #[serde(default)]
  headers: Vec<(String, String)>,
  #[serde(default)]
  options: Option<Value>,
  #[serde(default)]
  redirect: Option<String>,
}

fn get() -> String {
  "GET".into()
}

/// Options only `createKimiFetch` takes (besides the core [`Options`]).
#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct FetchOpts {
  shape: Option<bool>,
  effort: Option<String>,
  session_id: Option<String>,
  connect_timeout_ms: Option<f64>,
  read_timeout_ms: Option<f64>,
}

/// Wakes the JS stream when body data arrives. Weak: it keeps Node's event loop alive only
/// while JS waits for data (`try_read` refs it then), never for an unread body.
type WakeFn = ThreadsafeFunction<(), (), (), Status, false, true>;

/// A response whose body the JS ReadableStream takes with `tryRead()`; when nothing has
/// arrived yet, the `onReadable` callback says when to try again. Synchronous reads and one
/// wake-up per wait keep a fast stream from paying a promise and a task hand-off per chunk.
#[napi]
pub struct NativeResponse {
  status: u16,
  status_text: String,
  url: String,
  redirected: bool,
  headers: Vec<(String, String)>,
  body: std::sync::Mutex<Option<fetch::Body>>,
  wake: std::sync::Mutex<Option<Arc<std::sync::Mutex<WakeFn>>>>,
  cancel: Cancel,
}

impl NativeResponse {
  /// Refs the wake function while JS waits, unrefs it otherwise.
  #[allow(deprecated)] // napi 3 keeps refer/unref for exactly this (napi_ref_threadsafe_function).
  fn hold_loop(&self, env: &Env, waiting: bool) {
    if let Some(wake) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
      let mut wake = wake.lock().unwrap_or_else(|e| e.into_inner());
      let _ = if waiting { wake.refer(env) } else { wake.unref(env) };
    }
  }
  fn end(&self, env: &Env) {
    *self.body.lock().unwrap_or_else(|e| e.into_inner()) = None;
    self.hold_loop(env, false);
  }
}

#[napi]
impl NativeResponse {
  #[napi(getter)]
  pub fn status(&self) -> u32 {
    self.status as u32
  }
  #[napi(getter)]
  pub fn status_text(&self) -> String {
    self.status_text.clone()
  }
  #[napi(getter)]
  pub fn url(&self) -> String {
    self.url.clone()
  }
  #[napi(getter)]
  pub fn redirected(&self) -> bool {
    self.redirected
  }
  #[napi(getter)]
  pub fn headers(&self) -> Vec<(String, String)> {
    self.headers.clone()
  }
  /// Registers the callback run (on the JS thread) when `tryRead()` returned undefined and
  /// something has arrived since.
  #[napi(ts_args_type = "callback: () => void")]
  pub fn on_readable(&self, callback: Function<(), ()>) -> napi::Result<()> {
    let wake: WakeFn = callback
      .build_threadsafe_function()
      .callee_handled::<false>()
      .weak::<true>()
      .build()?;
    let wake = Arc::new(std::sync::Mutex::new(wake));
    let body = self.body.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(notifier) = body.as_ref().and_then(|b| b.notifier()) {
      let hook = wake.clone();
      notifier.set_hook(Box::new(move || {
        hook
          .lock()
          .unwrap_or_else(|e| e.into_inner())
          .call((), ThreadsafeFunctionCallMode::NonBlocking);
      }));
    }
    *self.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(wake);
    Ok(())
  }
  /// Body data that has arrived, `null` at the end, `undefined` when nothing has arrived yet
  /// (the `onReadable` callback then runs once). Throws the coded error of a failed stream.
  #[napi(ts_return_type = "Buffer | null | undefined")]
  pub fn try_read<'env>(&self, env: &'env Env) -> napi::Result<Either3<BufferSlice<'env>, Null, Undefined>> {
    let mut guard = self.body.lock().unwrap_or_else(|e| e.into_inner());
    let polled = match guard.as_mut() {
      Some(body) => {
        std::panic::catch_unwind(AssertUnwindSafe(|| body.poll_now())).unwrap_or_else(|_| Err(panic_error()))
      }
      None if self.cancel.is_cancelled() => Err(KimiError::cancelled()),
      None => Ok(fetch::Ready::End),
    };
    drop(guard);
    match polled {
      Ok(fetch::Ready::Data(data)) => {
        self.hold_loop(env, false);
        Ok(Either3::A(node_buffer(env, data)?))
      }
      Ok(fetch::Ready::Pending) => {
        self.hold_loop(env, true);
        Ok(Either3::C(()))
      }
      Ok(fetch::Ready::End) => {
        self.end(env);
        Ok(Either3::B(Null))
      }
      // Dropping the body closes the connection, so the server stops generating.
      Err(e) => {
        self.end(env);
        Err(js_error(env, &e))
      }
    }
  }
  /// Stops the body stream and releases the connection now rather than when V8 collects
  /// this object.
  #[napi]
  pub fn cancel(&self, env: Env) {
    self.cancel.cancel();
    self.end(&env);
  }
}

#[napi]
pub fn kimi_fetch(
  env: Env,
  spec: Value,
  body: Option<Buffer>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<NativeResponse>> {
  let cancel = cancel_of(cancel);
  // Copied once into a pooled buffer: the host's Buffer belongs to the JS thread.
  let body = body.map(|b| pool::copy(&b));
  spawn_coded(&env, async move {
    let spec: FetchSpec =
      serde_json::from_value(spec).map_err(|e| KimiError::bad_input(format!("Invalid fetch request: {e}.")))?;
    let s = settings(&spec.options)?;
    let fo: FetchOpts = match &spec.options {
      Some(v @ Value::Object(_)) => {
        serde_json::from_value(v.clone()).map_err(|e| KimiError::bad_input(format!("Invalid fetch options: {e}.")))?
      }
      _ => FetchOpts::default(),
    };
    let config = fetch::FetchConfig {
      shape: fo.shape.unwrap_or(true),
      effort: fo.effort,
      session_id: fo.session_id,
      connect_timeout_ms: fo.connect_timeout_ms.map(|v| v as u64),
      read_timeout_ms: fo.read_timeout_ms.map(|v| v as u64),
    };
    let req = fetch::FetchRequest {
      url: spec.url,
      method: spec.method,
      headers: spec.headers,
      body,
      redirect: fetch::Redirect::parse(spec.redirect.as_deref())?,
    };
    let resp = fetch::fetch(&s, &config, req, &cancel).await?;
    Ok(NativeResponse {
      status: resp.status,
      status_text: resp.status_text,
      url: resp.url,
      redirected: resp.redirected,
      headers: resp.headers,
      body: std::sync::Mutex::new(Some(resp.body)),
      wake: std::sync::Mutex::new(None),
      cancel,
    })
  })
}
