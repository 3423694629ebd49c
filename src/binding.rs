//! The napi binding layer: converts JS values to core types and back, nothing else.
//! Every error reaching JS is an `Error` with a stable `code`; panics are caught here and
//! turned into `KIMI_INTERNAL` errors so they never cross into the host process.

use crate::cancel::Cancel;
use crate::config::{self, Options, Settings};
use crate::error::KimiError;
use crate::{auth, claude_code, constants as c, fetch, identity, import, models, oauth, pool, shaping, usage};
use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

type Callback = ThreadsafeFunction<Value, (), Value, Status, false>;

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

/// Builds a real JS `Error` with `.code` (and `.status` / `.retryAfter` when known).
fn js_error(env: &Env, e: &KimiError) -> napi::Error {
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

fn panic_error() -> KimiError {
  KimiError::internal("kimi-native hit an internal error (a bug). Please report it; no credentials were changed.")
}

/// Runs a core future on napi's runtime; maps the outcome on the JS thread.
fn spawn_coded<T, F, M, R>(env: &Env, fut: F, map: M) -> napi::Result<AsyncBlock<R>>
where
  T: Send + 'static,
  F: Future<Output = crate::error::Result<T>> + Send + 'static,
  M: FnOnce(Env, T) -> napi::Result<R> + 'static,
  R: ToNapiValue + 'static,
{
  let guarded = async move {
    Ok(
      AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(panic_error())),
    )
  };
  AsyncBlockBuilder::build_with_map(env, guarded, move |env, r| match r {
    Ok(v) => map(env, v),
    Err(e) => Err(js_error(&env, &e)),
  })
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
  serde_json::to_value(v).unwrap_or(Value::Null)
}

fn options(v: &Option<Value>) -> crate::error::Result<Options> {
  match v {
    None | Some(Value::Null) => Ok(Options::default()),
    Some(obj @ Value::Object(_)) => serde_json::from_value(obj.clone())
      .map_err(|e| KimiError::bad_input(format!("Invalid options: {e}. Option values must be strings."))),
    Some(_) => Err(KimiError::bad_input("Options must be an object.")),
  }
}

fn settings(v: &Option<Value>) -> crate::error::Result<Settings> {
  Settings::resolve(&options(v)?)
}

fn sync<T>(env: &Env, f: impl FnOnce() -> crate::error::Result<T>) -> napi::Result<T> {
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

fn cancel_of(token: Option<&CancelToken>) -> Cancel {
  token.map(|t| t.inner.clone()).unwrap_or_default()
}

/// What status and login report about the identity in use: profile, User-Agent, host token
/// and, for an official profile, the guideline warning.
fn identity_summary(s: &Settings) -> Value {
  let r = identity::report(s);
  json!({"profile": s.profile.as_str(), "userAgent": r.user_agent, "host": r.host, "warning": r.warning})
}

/// The official-profile warning the first time this process uses one, else null. The JS layer
/// shows it (stderr, `onWarning`); the once-per-process state lives here, in the core.
#[napi]
pub fn take_warning(env: Env, options: Option<Value>) -> napi::Result<Option<String>> {
  sync(&env, || Ok(identity::take_warning(&settings(&options)?)))
}

/// The identity headers of the active profile: the User-Agent alone for `native`, the 7
/// official headers in the official client's order for `kimi-code` / `kimi-cli`.
#[napi(ts_return_type = "Array<[string, string]>")]
pub fn build_headers(env: Env, options: Option<Value>) -> napi::Result<Vec<Vec<String>>> {
  sync(&env, || {
    let s = settings(&options)?;
    Ok(
      identity::identity(&s)
        .headers
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect(),
    )
  })
}

/// kimi-native's own directory for these options (where the per-user config file lives).
#[napi]
pub fn home_dir(env: Env, options: Option<Value>) -> napi::Result<String> {
  sync(&env, || Ok(settings(&options)?.home.to_string_lossy().into_owned()))
}

/// Throws (a coded error naming both origins) unless `url` may receive the credential of the
/// login these options select; for adapters that hand a bearer to a host's own HTTP code.
#[napi]
pub fn check_credential_target(env: Env, url: String, options: Option<Value>) -> napi::Result<()> {
  sync(&env, || {
    crate::fetch::check_credential_target(&settings(&options)?, &url).map(|_| ())
  })
}

#[napi]
pub fn get_device_id(env: Env, options: Option<Value>) -> napi::Result<String> {
  sync(&env, || {
    let s = settings(&options)?;
    let headers = identity::identity(&s).headers;
    Ok(
      headers
        .iter()
        .find(|(k, _)| k == c::HEADER_DEVICE_ID)
        .map(|(_, v)| v.clone())
        .unwrap_or_default(),
    )
  })
}

#[napi]
pub fn identity(env: Env, options: Option<Value>) -> napi::Result<Value> {
  sync(&env, || {
    let s = settings(&options)?;
    let mut report = to_json(&identity::report(&s));
    if let Some(obj) = report.as_object_mut() {
      obj.insert(
        "oauthHost".into(),
        json!({"value": s.oauth_host, "source": s.oauth_host_source.describe()}),
      );
      obj.insert(
        "baseUrl".into(),
        json!({"value": s.base_url, "source": s.base_url_source.describe()}),
      );
    }
    Ok(report)
  })
}

/// Facts adapters need (ids, hint header names, option keys, choices, limits), so they never
/// restate them.
#[napi]
pub fn constants() -> Value {
  json!({
    "provider": {"opencodeId": c::OPENCODE_PROVIDER_ID, "piId": c::PI_PROVIDER_ID, "openclawId": c::OPENCLAW_PROVIDER_ID, "defaultModel": c::DEFAULT_MODEL},
    "hintHeaders": {"effort": c::HINT_HEADER_EFFORT, "sessionId": c::HINT_HEADER_SESSION},
    "errorHeader": fetch::ERROR_CODE_HEADER,
    // What a host's auth store holds instead of a token (written by `import` too).
    "authMarkers": {"opencode": import::opencode::marker(), "pi": import::pi::marker()},
    "warningHeader": c::WARNING_HEADER,
    "configFiles": {"user": c::USER_CONFIG_FILE, "project": c::PROJECT_CONFIG_FILE},
    "uploadThresholdBytes": c::UPLOAD_THRESHOLD_BYTES,
    "defaults": {"oauthHost": c::OAUTH_HOST_CN, "baseUrl": c::BASE_URL_CN, "kimiCodeVersion": c::KIMI_CODE_VERSION, "kimiCliVersion": c::KIMI_CLI_VERSION, "profile": "native", "nativeVersion": c::NATIVE_VERSION, "tokenMinValidSecs": c::TOKEN_MIN_VALID_SECS},
    "profiles": config::Profile::ALL.map(|p| p.as_str()),
    "officialDroppedHeaders": c::OFFICIAL_DROPPED_HEADERS,
    "optionKeys": config::option_keys(),
    "fetchOptionKeys": keys_of(&FetchOpts::default()),
    "choices": {
      "profile": config::Profile::ALL.map(|p| p.as_str()),
      "region": config::Region::ALL.map(|r| r.as_str()),
      "store": config::StoreKind::ALL.map(|k| k.as_str()),
    },
    "limits": {"context": c::DEFAULT_CONTEXT_LENGTH, "output": c::DEFAULT_MAX_OUTPUT_TOKENS},
    "loginBudgetSecs": c::DEVICE_LOGIN_BUDGET_SECS,
    "errorCodes": crate::error::Code::ALL.iter().map(|c| (c.key().to_string(), Value::from(c.as_str()))).collect::<serde_json::Map<_, _>>(),
  })
}

/// The camelCase field names of an options struct, so JS never keeps its own list.
fn keys_of<T: serde::Serialize>(v: &T) -> Vec<String> {
  match serde_json::to_value(v) {
    Ok(Value::Object(map)) => map.keys().cloned().collect(),
    _ => Vec::new(),
  }
}

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
fn node_buffer(env: &Env, data: Vec<u8>) -> napi::Result<BufferSlice<'_>> {
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
    let args: ShapeArgs = match options {
      None | Some(Value::Null) => ShapeArgs::default(),
      Some(v) => {
        serde_json::from_value(v).map_err(|e| KimiError::bad_input(format!("Invalid shaping options: {e}.")))?
      }
    };
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
      keep: shaping::keep_from_env(),
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

/// Classifies an error response a host received into `{ code, message, retryAfter? }`.
#[napi]
pub fn classify_response(
  env: Env,
  status: u32,
  body: String,
  retry_after: Option<f64>,
  options: Option<Value>,
) -> napi::Result<Option<Value>> {
  sync(&env, || {
    let s = settings(&options)?;
    Ok(
      fetch::classify(&s, status as u16, &body, retry_after)
        .map(|e| json!({"code": e.code.as_str(), "message": e.message, "retryAfter": e.retry_after})),
    )
  })
}

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
struct FetchOpts {
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
  headers: Vec<Vec<String>>,
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
  #[napi(getter, ts_return_type = "Array<[string, string]>")]
  pub fn headers(&self) -> Vec<Vec<String>> {
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

#[napi(ts_return_type = "Promise<NativeResponse>")]
pub fn kimi_fetch(
  env: Env,
  spec: Value,
  body: Option<Buffer>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<NativeResponse>> {
  let cancel = cancel_of(cancel);
  // Copied once into a pooled buffer: the host's Buffer belongs to the JS thread.
  let body = body.map(|b| pool::copy(&b));
  spawn_coded(
    &env,
    async move {
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
        headers: resp.headers.into_iter().map(|(k, v)| vec![k, v]).collect(),
        body: std::sync::Mutex::new(Some(resp.body)),
        wake: std::sync::Mutex::new(None),
        cancel,
      })
    },
    |_, v| Ok(v),
  )
}

/// Kimi logins other plugins hold on this machine (no secrets), and which can be taken over.
#[napi(ts_return_type = "Promise<any[]>")]
pub fn import_sources(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let loc = import::Locations::from_process(&s);
      Ok(to_json(&auth::blocking(move || Ok(import::list(&loc))).await?))
    },
    |_, v| Ok(v),
  )
}

/// Takes over the login `source` names: one refresh, stored by kimi-native, source handed over.
#[napi(ts_return_type = "Promise<any>")]
pub fn import_login(env: Env, source: String, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let loc = import::Locations::from_process(&s);
      let out = import::import(&s, &loc, &source).await?;
      let mut v = to_json(&out);
      if let Some(obj) = v.as_object_mut() {
        obj.insert("profile".into(), json!(s.profile.as_str()));
      }
      Ok(v)
    },
    |_, v| Ok(v),
  )
}

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

fn call_of(args: &PlatformArgs, default_ms: u64, cancel: Cancel) -> crate::platform::Call {
  let ms = args.timeout_ms.filter(|v| v.is_finite() && *v > 0.0).map(|v| v as u64);
  crate::platform::Call::new(ms, default_ms, cancel)
}

#[napi(
  ts_args_type = "data: Buffer, options?: any, args?: any, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<{ id: string; url: string; cached: boolean }>"
)]
pub fn upload_file(
  env: Env,
  data: Buffer,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  let cancel = cancel_of(cancel);
  let data = bytes::Bytes::from(data.to_vec());
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a = platform_args(args)?;
      let call = call_of(&a, c::UPLOAD_TIMEOUT_MS, cancel);
      let mime = a.mime_type.clone().unwrap_or_default();
      Ok(to_json(
        &crate::platform::files::upload(&s, data, &mime, a.purpose.as_deref(), &call).await?,
      ))
    },
    |_, v| Ok(v),
  )
}

#[napi(
  ts_args_type = "query: string, options?: any, args?: any, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<any[]>"
)]
pub fn search(
  env: Env,
  query: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  let cancel = cancel_of(cancel);
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a = platform_args(args)?;
      let limit = match a.limit {
        None => None,
        Some(n) if n.is_finite() && n >= 1.0 && n <= u32::MAX as f64 => Some(n as u32),
        Some(_) => return Err(KimiError::bad_input("search limit must be a positive integer.")),
      };
      let call = call_of(&a, c::SEARCH_TIMEOUT_MS, cancel);
      Ok(to_json(
        &crate::platform::search::search(&s, &query, limit, &call).await?,
      ))
    },
    |_, v| Ok(v),
  )
}

#[napi(
  ts_args_type = "url: string, options?: any, args?: any, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<string>"
)]
pub fn fetch_url(
  env: Env,
  url: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<String>> {
  let cancel = cancel_of(cancel);
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a = platform_args(args)?;
      let call = call_of(&a, c::FETCH_URL_TIMEOUT_MS, cancel);
      crate::platform::fetch_url::fetch_url(&s, &url, &call).await
    },
    |_, v| Ok(v),
  )
}

#[napi(
  ts_args_type = "name: string, options?: any, args?: any, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<any>"
)]
pub fn datasource(
  env: Env,
  name: String,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  let cancel = cancel_of(cancel);
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a = platform_args(args)?;
      let call = call_of(&a, c::TOOLS_TIMEOUT_MS, cancel);
      crate::platform::datasource::datasource(&s, &name, a.api.as_deref(), a.params.clone(), &call).await
    },
    |_, v| Ok(v),
  )
}

#[napi(
  ts_args_type = "options?: any, args?: any, cancel?: CancelToken | undefined | null",
  ts_return_type = "Promise<any>"
)]
pub fn me(
  env: Env,
  options: Option<Value>,
  args: Option<Value>,
  cancel: Option<&CancelToken>,
) -> napi::Result<AsyncBlock<Value>> {
  let cancel = cancel_of(cancel);
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let a = platform_args(args)?;
      let call = call_of(&a, c::ME_TIMEOUT_MS, cancel);
      Ok(to_json(&crate::platform::me::me(&s, &call).await?))
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

/// The hosts whose configuration points at kimi-native (for `status`), read off the JS thread.
async fn configured_hosts(s: &Settings) -> Value {
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
