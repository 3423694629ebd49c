//! Request shaping for hosts that send their own requests, and error classification.

use super::error::{js_error, panic_error};
use super::options::{parse_args, settings};
use super::sync;
use crate::config::{Options, Settings};
use crate::{fetch, models, pool, shaping};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ShapeArgs {
  model: Option<String>,
  effort: Option<String>,
  session_id: Option<String>,
  model_info: Option<models::ModelInfo>,
  models: Option<Vec<models::ModelInfo>>,
  #[serde(flatten)]
  core: Options,
}

/// Pure request shaping; returns a new body. A JSON string in gives a JSON string out, which
/// is much cheaper for large bodies than converting a JS object value by value.
#[napi(ts_args_type = "body: any, options?: any", ts_return_type = "any")]
pub fn shape_request(env: Env, body: Value, options: Option<Value>) -> napi::Result<Value> {
  match shape_request_value(&env, body, options, None)? {
    ShapedOut::Value(v) => Ok(v),
    ShapedOut::Bytes(_) => Err(js_error(&env, &panic_error())),
  }
}

/// `shapeRequest` for a Buffer of JSON: the bytes a fetch would send, with no UTF-16
/// conversion either way. Not JSON: the same Buffer back.
#[napi(ts_args_type = "body: Buffer, options?: any", ts_return_type = "Buffer")]
pub fn shape_request_bytes<'env>(
  env: &'env Env,
  body: Buffer,
  options: Option<Value>,
) -> napi::Result<Either<Buffer, BufferSlice<'env>>> {
  Ok(match shape_request_value(env, Value::Null, options, Some(&body))? {
    ShapedOut::Bytes(v) => Either::B(node_buffer(env, v)?),
    ShapedOut::Value(_) => Either::A(body),
  })
}

/// `data` copied into a Buffer Node allocates, and `data` back to the pool at once. Handing
/// `data` itself over (an external buffer) avoids the copy but returns the memory only when V8
/// collects the Buffer, so every call would take fresh pages from the kernel: about 2× slower
/// for a 1 MB shaped body. Stream batches go the same way.
pub(super) fn node_buffer(env: &Env, data: Vec<u8>) -> napi::Result<BufferSlice<'_>> {
  let out = BufferSlice::copy_from(env, &data);
  pool::give(data);
  out
}

enum ShapedOut {
  Value(Value),
  Bytes(Vec<u8>),
}

fn shape_request_value(
  env: &Env,
  body: Value,
  options: Option<Value>,
  bytes: Option<&[u8]>,
) -> napi::Result<ShapedOut> {
  sync(env, || {
    let text = match body {
      Value::String(text) => Ok(text),
      value => Err(value),
    };
    let args: ShapeArgs = parse_args(options, "shaping options")?;
    let s = Settings::resolve(&args.core)?;
    let known = match (args.model_info, args.models) {
      (Some(m), _) => vec![m],
      (None, Some(list)) => list,
      (None, None) => models::load_cache(&s).unwrap_or_default(),
    };
    let opts = shaping::ShapeOptions {
      profile: Some(s.profile),
      model: args.model,
      effort: args.effort,
      session_id: args.session_id,
      models: known,
      keep: s.thinking_keep.clone(),
    };
    if let Some(b) = bytes {
      // Not JSON: the caller's Buffer goes back as it is.
      return Ok(match shaping::shape_bytes(b, &opts) {
        Some(out) => ShapedOut::Bytes(out),
        None => ShapedOut::Value(Value::Null),
      });
    }
    Ok(ShapedOut::Value(match text {
      // JSON text takes the same lazy path as the fetch; not JSON: nothing to shape.
      Ok(text) => match shaping::shape_bytes(text.as_bytes(), &opts) {
        Some(out) => Value::String(String::from_utf8(out).unwrap_or(text)),
        None => Value::String(text),
      },
      Err(mut value) => {
        shaping::shape(&mut value, &opts);
        value
      }
    }))
  })
}

/// What an error response means, as kimi-native would have raised it.
#[napi(object, use_nullable = true)]
pub struct ClassifiedError {
  /// A stable `KIMI_*` code.
  pub code: String,
  pub message: String,
  /// Seconds, when the server sent Retry-After.
  pub retry_after: Option<f64>,
}

/// Classifies an error response a host received into `{ code, message, retryAfter }`.
#[napi]
pub fn classify_response(
  env: Env,
  status: u32,
  body: String,
  retry_after: Option<f64>,
  options: Option<Value>,
) -> napi::Result<Option<ClassifiedError>> {
  sync(&env, || {
    let s = settings(&options)?;
    Ok(
      fetch::classify(&s, status as u16, &body, retry_after).map(|e| ClassifiedError {
        code: e.code.as_str().into(),
        message: e.message,
        retry_after: e.retry_after,
      }),
    )
  })
}
