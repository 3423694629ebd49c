//! The napi binding layer: converts JS values to core types and back, nothing else.
//! Every error reaching JS is an `Error` with a stable `code`; panics are caught here and
//! turned into `KIMI_INTERNAL` errors so they never cross into the host process.

mod auth;
mod claude_code;
mod constants;
mod error;
mod identity;
mod import;
mod login;
mod options;
mod platform;
mod response;
mod shaping;

use crate::cancel::Cancel;
use error::{js_error, panic_error};
use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// One tokio worker: a client's work is a few connections and cheap parsing, and napi's
/// default (one worker per CPU) adds cross-worker wake-ups to every streamed chunk. Blocking
/// work (keychain, files) runs on tokio's blocking pool, not on this worker.
#[napi_derive::module_init]
fn init_runtime() {
  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(1)
    .thread_name("kimi-native")
    .enable_all()
    .build();
  // Without it napi builds its default runtime.
  if let Ok(rt) = rt {
    napi::bindgen_prelude::create_custom_tokio_runtime(rt);
  }
}

/// Runs a core future on napi's runtime; its value, or its coded error, reaches JS.
pub(super) fn spawn_coded<T, F>(env: &Env, fut: F) -> napi::Result<AsyncBlock<T>>
where
  T: ToNapiValue + Send + 'static,
  F: Future<Output = crate::error::Result<T>> + Send + 'static,
{
  let guarded = async move {
    Ok(
      AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(panic_error())),
    )
  };
  // The JS error is built on the JS thread, where `env` is valid.
  AsyncBlockBuilder::build_with_map(env, guarded, |env, r| r.map_err(|e| js_error(&env, &e)))
}

pub(super) fn sync<T>(env: &Env, f: impl FnOnce() -> crate::error::Result<T>) -> napi::Result<T> {
  match std::panic::catch_unwind(AssertUnwindSafe(f)) {
    Ok(Ok(v)) => Ok(v),
    Ok(Err(e)) => Err(js_error(env, &e)),
    Err(_) => Err(js_error(env, &panic_error())),
  }
}

/// Cancellation handle: the JS layer calls `cancel()` from an AbortSignal listener.
#[napi]
pub struct CancelToken {
  inner: Cancel,
}

#[napi]
impl CancelToken {
  #[napi(constructor)]
  pub fn new() -> Self {
    CancelToken {
      inner: Cancel::default(),
    }
  }
  #[napi]
  pub fn cancel(&self) {
    self.inner.cancel();
  }
}

impl Default for CancelToken {
  fn default() -> Self {
    Self::new()
  }
}

pub(super) fn cancel_of(token: Option<&CancelToken>) -> Cancel {
  token.map(|t| t.inner.clone()).unwrap_or_default()
}
