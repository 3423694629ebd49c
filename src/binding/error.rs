//! How a core error or a panic reaches JS.

use crate::error::KimiError;
use napi::bindgen_prelude::*;

/// Builds a real JS `Error` with `.code` (and `.status` / `.retryAfter` when known).
pub(super) fn js_error(env: &Env, e: &KimiError) -> napi::Error {
  let build = || -> napi::Result<napi::Error> {
    let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, e.message.clone()))?;
    obj.set_named_property("code", e.code.as_str())?;
    if let Some(s) = e.status {
      obj.set_named_property("status", s as u32)?;
    }
    if let Some(r) = e.retry_after {
      obj.set_named_property("retryAfter", r)?;
    }
    Ok(napi::Error::from(obj.to_unknown()))
  };
  build().unwrap_or_else(|err| err)
}

pub(super) fn panic_error() -> KimiError {
  KimiError::internal("kimi-native hit an internal error (a bug). Please report it; no credentials were changed.")
}
