//! Kimi's platform services: file upload, web search, URL fetch, data sources, the account.

use super::options::settings;
use super::{cancel_of, spawn_coded, CancelToken};
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::KimiError;
use crate::platform::{self, Call};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::future::Future;

/// Per-call options of the platform functions (the core options travel separately).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PlatformArgs {
  timeout_ms: Option<f64>,
  limit: Option<f64>,
  mime_type: Option<String>,
  purpose: Option<String>,
  api: Option<String>,
  params: Option<Value>,
}

fn platform_args(v: Option<Value>) -> crate::error::Result<PlatformArgs> {
  match v {
    None | Some(Value::Null) => Ok(PlatformArgs::default()),
    Some(obj @ Value::Object(_)) => {
      serde_json::from_value(obj).map_err(|e| KimiError::bad_input(format!("Invalid options: {e}.")))
    }
    Some(_) => Err(KimiError::bad_input("Options must be an object.")),
  }
}

#[napi(object)]
pub struct UploadedFile {
  pub id: String,
  /// `ms://<id>`, usable as an image_url / video_url in a chat message.
  pub url: String,
  /// True when the same bytes were uploaded before for this account and no request was made.
  pub cached: bool,
}

#[napi(object)]
pub struct SearchResult {
  pub title: String,
  pub url: String,
  pub snippet: String,
  pub date: Option<String>,
  pub site_name: Option<String>,
}

/// The account as `GET /me` describes it, without ids, email or phone.
#[napi(object)]
pub struct AccountInfo {
  pub nickname: Option<String>,
  pub plan: Option<String>,
  pub plan_level: Option<String>,
  pub region: Option<String>,
  pub status: Option<String>,
}

fn call_of(args: &PlatformArgs, default_ms: u64, cancel: Cancel) -> Call {
  let ms = args.timeout_ms.filter(|v| v.is_finite() && *v > 0.0).map(|v| v as u64);
  Call::new(ms, default_ms, cancel)
}

/// One platform call on napi's runtime: the options resolved, the call's own arguments parsed,
/// its time limit (`timeoutMs`, else `default_ms`) and cancellation set, then `run`.
fn platform_call<R, F, Fut>(
  env: &Env,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
  default_ms: u64,
  run: F,
) -> napi::Result<AsyncBlock<R>>
where
  F: FnOnce(Settings, PlatformArgs, Call) -> Fut + Send + 'static,
  Fut: Future<Output = crate::error::Result<R>> + Send + 'static,
  R: ToNapiValue + Send + 'static,
{
  let cancel = cancel_of(cancel);
  spawn_coded(env, async move {
    let s = settings(&options)?;
    let a = platform_args(args)?;
    let call = call_of(&a, default_ms, cancel);
    run(s, a, call).await
  })
}

#[napi(ts_args_type = "data: Buffer, options?: any, args?: any, cancel?: CancelToken | undefined | null")]
pub fn upload_file(
  env: Env,
  data: Buffer,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<UploadedFile>> {
  let data = bytes::Bytes::from(data.to_vec());
  platform_call(
    &env,
    options,
    args,
    cancel,
    c::UPLOAD_TIMEOUT_MS,
    |s, a, call| async move {
      let mime = a.mime_type.unwrap_or_default();
      let up = platform::files::upload(&s, data, &mime, a.purpose.as_deref(), &call).await?;
      Ok(UploadedFile {
        id: up.id,
        url: up.url,
        cached: up.cached,
      })
    },
  )
}

#[napi(ts_args_type = "query: string, options?: any, args?: any, cancel?: CancelToken | undefined | null")]
pub fn search(
  env: Env,
  query: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Vec<SearchResult>>> {
  platform_call(
    &env,
    options,
    args,
    cancel,
    c::SEARCH_TIMEOUT_MS,
    |s, a, call| async move {
      let limit = match a.limit {
        None => None,
        Some(n) if n.is_finite() && n >= 1.0 && n <= u32::MAX as f64 => Some(n as u32),
        Some(_) => return Err(KimiError::bad_input("search limit must be a positive integer.")),
      };
      let found = platform::search::search(&s, &query, limit, &call).await?;
      Ok(
        found
          .into_iter()
          .map(|r| SearchResult {
            title: r.title,
            url: r.url,
            snippet: r.snippet,
            date: r.date,
            site_name: r.site_name,
          })
          .collect(),
      )
    },
  )
}

#[napi(ts_args_type = "url: string, options?: any, args?: any, cancel?: CancelToken | undefined | null")]
pub fn fetch_url(
  env: Env,
  url: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<String>> {
  platform_call(
    &env,
    options,
    args,
    cancel,
    c::FETCH_URL_TIMEOUT_MS,
    |s, _, call| async move { platform::fetch_url::fetch_url(&s, &url, &call).await },
  )
}

/// A data source's description, or with `api` a call of that api with `params`: whatever the
/// source returns.
#[napi(ts_args_type = "name: string, options?: any, args?: any, cancel?: CancelToken | undefined | null")]
pub fn datasource(
  env: Env,
  name: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  platform_call(
    &env,
    options,
    args,
    cancel,
    c::TOOLS_TIMEOUT_MS,
    |s, a, call| async move { platform::datasource::datasource(&s, &name, a.api.as_deref(), a.params, &call).await },
  )
}

#[napi(ts_args_type = "options?: any, args?: any, cancel?: CancelToken | undefined | null")]
pub fn me(
  env: Env,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<AccountInfo>> {
  platform_call(&env, options, args, cancel, c::ME_TIMEOUT_MS, |s, _, call| async move {
    let me = platform::me::me(&s, &call).await?;
    Ok(AccountInfo {
      nickname: me.nickname,
      plan: me.plan,
      plan_level: me.plan_level,
      region: me.region,
      status: me.status,
    })
  })
}
