//! The request path every host request takes: hint headers → shaping → fresh bearer +
//! identity headers → reqwest → one forced refresh and one retry on 401 → a streaming body.
//! HTTP errors stay responses (fetch semantics) but are classified into a header.

use crate::auth;
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::shaping::{self, ShapeOptions};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{error::TryRecvError, Sender};

/// Response header carrying the kimi-native error code of a non-2xx response.
pub const ERROR_CODE_HEADER: &str = "x-kimi-native-error";
/// What is buffered of an error body to classify it; the rest is streamed to the host unchanged.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// WHATWG fetch's redirect limit.
const MAX_REDIRECTS: usize = 20;

/// `RequestInit.redirect`. Whatever the mode, a redirect to another origin is never followed:
/// the request carries the user's Kimi credentials, so the host gets the 3xx response instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redirect {
  #[default]
  Follow,
  Manual,
  Error,
}

impl Redirect {
  pub fn parse(mode: Option<&str>) -> Result<Redirect> {
    match mode {
      None | Some("follow") => Ok(Redirect::Follow),
      Some("manual") => Ok(Redirect::Manual),
      Some("error") => Ok(Redirect::Error),
      Some(other) => Err(KimiError::bad_input(format!(
        "kimi fetch: redirect must be \"follow\", \"manual\" or \"error\", not {other:?}."
      ))),
    }
  }
}

#[derive(Debug, Clone, Default)]
pub struct FetchConfig {
  pub shape: bool,
  pub effort: Option<String>,
  pub session_id: Option<String>,
  pub connect_timeout_ms: Option<u64>,
  pub read_timeout_ms: Option<u64>,
}

pub struct FetchRequest {
  pub url: String,
  pub method: String,
  pub headers: Vec<(String, String)>,
  pub body: Option<Bytes>,
  pub redirect: Redirect,
}

pub enum Body {
  Stream(StreamBody),
  Buffered(Option<Bytes>),
}

pub struct FetchResponse {
  pub status: u16,
  pub status_text: String,
  pub url: String,
  /// True when a (same-origin) redirect was followed, as `Response.redirected`.
  pub redirected: bool,
  pub headers: Vec<(String, String)>,
  pub body: Body,
}

/// The most one read hands to JS. Large enough that a fast stream crosses the FFI boundary
/// rarely; small enough not to hold much memory per read.
const MAX_READ: usize = 256 * 1024;
/// Chunks read ahead of JS before the network is paused (back-pressure).
const READ_AHEAD_CHUNKS: usize = 32;

/// A response body read ahead by its own task: the network keeps flowing while JS handles the
/// previous piece, and each read takes everything that has arrived since, so a fast stream
/// costs one JS↔native round trip per batch instead of one per network chunk. Dropping it
/// stops the task and closes the connection, so the server stops generating.
pub struct StreamBody {
  rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
  pending_error: Option<KimiError>,
  ready: Arc<ReadyNotifier>,
  cancel: Cancel,
  task: tokio::task::AbortHandle,
}

/// What [`StreamBody::poll_now`] found.
pub enum Ready {
  Data(Vec<u8>),
  End,
  /// Nothing yet; the notifier's hook runs once when that changes.
  Pending,
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// Tells a consumer that found the body empty that data, the end or an error arrived — one
/// cross-thread wake-up instead of a task hand-off per read.
#[derive(Default)]
pub struct ReadyNotifier {
  waiting: AtomicBool,
  hook: Mutex<Option<Hook>>,
}

impl ReadyNotifier {
  pub fn set_hook(&self, hook: Hook) {
    *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
  }
  fn notify(&self) {
    if self.waiting.swap(false, Ordering::AcqRel) {
      if let Some(hook) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        hook();
      }
    }
  }
}

impl Drop for StreamBody {
  fn drop(&mut self) {
    self.task.abort();
  }
}

impl StreamBody {
  /// Must be called inside the tokio runtime. Cancelling `cancel` stops the stream at once
  /// (buffered data is dropped, as fetch does on abort).
  pub fn spawn(resp: reqwest::Response, cancel: Cancel) -> StreamBody {
    Self::spawn_after(None, resp, cancel)
  }

  /// Like [`StreamBody::spawn`], with `prefix` (bytes already read from `resp`) delivered first.
  pub fn spawn_after(prefix: Option<Bytes>, resp: reqwest::Response, cancel: Cancel) -> StreamBody {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
    let ready = Arc::new(ReadyNotifier::default());
    let notifier = ready.clone();
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
      let run = async {
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
          if tx.send(Ok(p)).await.is_err() {
            return;
          }
          notifier.notify();
        }
        pump(resp, &tx, &notifier).await
      };
      tokio::select! {
        _ = stop.cancelled() => {}
        _ = run => {}
      }
      // The consumer sees the end (a closed channel) before it is woken for it.
      drop(tx);
      notifier.notify();
    })
    .abort_handle();
    StreamBody {
      rx,
      pending_error: None,
      ready,
      cancel,
      task,
    }
  }

  pub fn notifier(&self) -> Arc<ReadyNotifier> {
    self.ready.clone()
  }

  /// Waits for the next data, then also takes whatever else is already buffered.
  pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
    if self.cancel.is_cancelled() {
      return Err(KimiError::cancelled());
    }
    if let Some(e) = self.pending_error.take() {
      return Err(e);
    }
    match self.rx.recv().await {
      None => Ok(None),
      Some(Err(e)) => Err(e),
      Some(Ok(first)) => Ok(Some(self.drain_after(first))),
    }
  }

  /// What has arrived, without waiting. On `Pending` the notifier's hook runs once when data,
  /// the end or an error arrives. Errors come after the data that preceded them.
  pub fn poll_now(&mut self) -> Result<Ready> {
    if self.cancel.is_cancelled() {
      return Err(KimiError::cancelled());
    }
    if let Some(e) = self.pending_error.take() {
      return Err(e);
    }
    // Set before looking, so a chunk sent right after the look still wakes the consumer.
    self.ready.waiting.store(true, Ordering::Release);
    let found = match self.rx.try_recv() {
      Ok(Ok(first)) => Ok(Ready::Data(self.drain_after(first))),
      Ok(Err(e)) => Err(e),
      Err(TryRecvError::Disconnected) => Ok(Ready::End),
      Err(TryRecvError::Empty) => return Ok(Ready::Pending),
    };
    self.ready.waiting.store(false, Ordering::Release);
    found
  }

  fn drain_after(&mut self, first: Bytes) -> Vec<u8> {
    // A batch `take_ready` assembled is uniquely owned: this takes its allocation, no copy.
    let mut out = Vec::from(first);
    while out.len() < MAX_READ {
      match self.rx.try_recv() {
        Ok(Ok(more)) => out.extend_from_slice(&more),
        // Reported on the next read, after the data before it.
        Ok(Err(e)) => {
          self.pending_error = Some(e);
          break;
        }
        Err(_) => break,
      }
    }
    out
  }
}

/// Reads `resp` into `tx` until the end, an error, or the consumer goes away.
async fn pump(mut resp: reqwest::Response, tx: &Sender<Result<Bytes>>, ready: &ReadyNotifier) {
  loop {
    let next = tokio::select! {
      _ = tx.closed() => return,
      r = resp.chunk() => r,
    };
    let first = match next {
      Ok(Some(chunk)) => chunk,
      Ok(None) => return,
      Err(e) => {
        let _ = tx.send(Err(KimiError::network("Reading the Kimi response", &e))).await;
        return;
      }
    };
    // hyper yields one chunked-encoding frame at a time; frames it has already decoded go
    // into the same message, so a fast stream wakes the consumer less often.
    let (batch, end) = take_ready(&mut resp, first);
    if tx.send(Ok(batch)).await.is_err() {
      return;
    }
    ready.notify();
    match end {
      None => {}
      Some(Ok(())) => return,
      Some(Err(e)) => {
        let _ = tx.send(Err(e)).await;
        return;
      }
    }
  }
}

/// Appends to `first` every chunk `resp` can give without waiting (up to [`MAX_READ`]). The
/// second value is `Some` when the body ended (`Ok`) or failed (`Err`) while doing so.
fn take_ready(resp: &mut reqwest::Response, first: Bytes) -> (Bytes, Option<Result<()>>) {
  use futures_util::FutureExt;
  let mut buf: Option<bytes::BytesMut> = None;
  let mut end = None;
  while buf.as_ref().map_or(first.len(), |b| b.len()) < MAX_READ {
    match resp.chunk().now_or_never() {
      Some(Ok(Some(more))) => buf
        .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
        .extend_from_slice(&more),
      Some(Ok(None)) => {
        end = Some(Ok(()));
        break;
      }
      Some(Err(e)) => {
        end = Some(Err(KimiError::network("Reading the Kimi response", &e)));
        break;
      }
      // Not decoded yet: dropping the pending future consumes nothing.
      None => break,
    }
  }
  (buf.map_or(first, |b| b.freeze()), end)
}

impl Body {
  /// What is available now (see [`StreamBody::poll_now`]); a buffered body is always ready.
  pub fn poll_now(&mut self) -> Result<Ready> {
    match self {
      Body::Buffered(b) => Ok(b.take().map_or(Ready::End, |b| Ready::Data(Vec::from(b)))),
      Body::Stream(s) => s.poll_now(),
    }
  }

  pub fn notifier(&self) -> Option<Arc<ReadyNotifier>> {
    match self {
      Body::Buffered(_) => None,
      Body::Stream(s) => Some(s.notifier()),
    }
  }
}

/// Reads about `limit` bytes of an error body; `true` with them when the body ended (a broken
/// body just ends it), `false` when more is left to stream.
async fn read_error_body(resp: &mut reqwest::Response, limit: usize, cancel: &Cancel) -> Result<(Vec<u8>, bool)> {
  let mut buf = Vec::new();
  loop {
    if buf.len() >= limit {
      return Ok((buf, false));
    }
    match cancel
      .run(async {
        resp
          .chunk()
          .await
          .map_err(|e| KimiError::network("Reading the Kimi response", &e))
      })
      .await
    {
      Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
      Ok(None) => return Ok((buf, true)),
      Err(e) if e.code == Code::Cancelled => return Err(e),
      Err(_) => return Ok((buf, true)),
    }
  }
}

/// Headers kimi-native itself sets on every request (transport, credentials, identity, its own
/// hints): a host's value for them is replaced, never merged. Everything else the host sends
/// passes, including `X-Msh-Tool-Call-Id` (needed by /search and /fetch, docs/kimi-wire.md §5.1).
fn is_owned(name: &str) -> bool {
  let n = name.to_ascii_lowercase();
  matches!(
    n.as_str(),
    "host"
      | "content-length"
      | "connection"
      | "authorization"
      | "x-api-key"
      | "user-agent"
      | "accept-encoding"
      | "transfer-encoding"
  ) || [
    c::HEADER_PLATFORM,
    c::HEADER_VERSION,
    c::HEADER_DEVICE_NAME,
    c::HEADER_DEVICE_MODEL,
    c::HEADER_OS_VERSION,
    c::HEADER_DEVICE_ID,
  ]
  .iter()
  .any(|h| h.eq_ignore_ascii_case(&n))
    || n == c::HINT_HEADER_EFFORT
    || n == c::HINT_HEADER_SESSION
}

/// Whether a host header goes out: owned headers never; in an official profile, neither do the
/// host-only headers that client never sends (`OFFICIAL_DROPPED_HEADERS`).
fn passes(settings: &Settings, name: &str) -> bool {
  let host_only = || c::OFFICIAL_DROPPED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
  let dropped = settings.profile.is_official() && host_only();
  !is_owned(name) && !dropped
}

fn hint(headers: &[(String, String)], name: &str) -> Option<String> {
  headers
    .iter()
    .find(|(k, _)| k.eq_ignore_ascii_case(name))
    .map(|(_, v)| v.trim().to_string())
    .filter(|v| !v.is_empty())
}

fn is_chat(url: &str) -> bool {
  let path = url.split(['?', '#']).next().unwrap_or(url);
  path.ends_with("/chat/completions")
}

/// Applies shaping to a JSON chat body; anything else passes through byte for byte.
/// Returns the body to send, whether it is a shaped JSON chat body, and for the Anthropic
/// route the `anthropic-beta` value to send.
fn shaped_body(
  settings: &Settings,
  config: &FetchConfig,
  req: &FetchRequest,
  models: Vec<crate::models::ModelInfo>,
) -> (Option<Bytes>, bool, Option<String>) {
  let Some(body) = req.body.as_ref() else {
    return (None, false, None);
  };
  let messages_route = crate::anthropic::is_messages(&req.url);
  if !config.shape || !req.method.eq_ignore_ascii_case("POST") || !(is_chat(&req.url) || messages_route) {
    return (Some(body.clone()), false, None);
  }
  let opts = ShapeOptions {
    profile: Some(settings.profile),
    model: None,
    effort: hint(&req.headers, c::HINT_HEADER_EFFORT).or_else(|| config.effort.clone()),
    session_id: hint(&req.headers, c::HINT_HEADER_SESSION).or_else(|| config.session_id.clone()),
    models,
    keep: shaping::keep_from_env(),
  };
  if !messages_route {
    // Chat bodies: the lazy path parses only what the rules touch (issue #17).
    return match shaping::shape_bytes(body, &opts) {
      Some(v) => (Some(crate::pool::bytes(v)), true, None),
      None => (Some(body.clone()), false, None),
    };
  }
  let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
    return (Some(body.clone()), false, None);
  };
  crate::anthropic::shape(&mut json, &opts);
  let beta = crate::anthropic::beta_header(hint(&req.headers, "anthropic-beta").as_deref(), &json);
  match serde_json::to_vec(&json) {
    Ok(v) => (Some(crate::pool::bytes(v)), true, beta),
    Err(_) => (Some(body.clone()), false, None),
  }
}

fn origin_of(url: &reqwest::Url) -> String {
  url.origin().ascii_serialization()
}

/// Whether `url` may receive the credential of the login `settings` select: only the Kimi API
/// origin (of the base URL) does. The one rule for every bearer kimi-native hands out: its own
/// fetch checks each request with it, and an adapter that gives the bearer to a host's own HTTP
/// code checks the host's target with it first (`checkCredentialTarget`). A host bug or a
/// hostile target must not receive the user's credentials. Only origins are named in errors (a
/// query string may carry secrets of its own).
pub fn check_credential_target(settings: &Settings, url: &str) -> Result<reqwest::Url> {
  let url = reqwest::Url::parse(url)
    .ok()
    .filter(|u| matches!(u.scheme(), "http" | "https"))
    .ok_or_else(|| KimiError::bad_input("Kimi credentials go only to an absolute http(s) URL.".to_string()))?;
  let base = reqwest::Url::parse(&settings.base_url).map_err(|_| {
    KimiError::bad_input("The Kimi base URL is not a valid URL; check baseUrl or KIMI_CODE_BASE_URL.".to_string())
  })?;
  if origin_of(&url) != origin_of(&base) {
    return Err(KimiError::bad_input(format!(
      "kimi-native sends Kimi credentials only to the Kimi API at {}, not to {}. \
       If that server is your Kimi API, set KIMI_CODE_BASE_URL to it in your environment.",
      origin_of(&base),
      origin_of(&url)
    )));
  }
  Ok(url)
}

fn check_target(settings: &Settings, req: &FetchRequest) -> Result<()> {
  check_credential_target(settings, &req.url)?;
  if reqwest::Method::from_bytes(req.method.as_bytes()).is_err() {
    return Err(KimiError::bad_input(format!(
      "kimi fetch: {:?} is not an HTTP method.",
      req.method
    )));
  }
  Ok(())
}

/// One hop of a request: what is sent where (changes when a redirect is followed).
struct Hop<'a> {
  method: reqwest::Method,
  url: reqwest::Url,
  body: Option<&'a Bytes>,
}

/// Request headers that describe a body; dropped with the body when a redirect turns the
/// request into a GET (WHATWG fetch "request-body-header name").
fn is_body_header(name: &str) -> bool {
  [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
  ]
  .iter()
  .any(|h| name.eq_ignore_ascii_case(h))
}

async fn send_once(
  http: &reqwest::Client,
  settings: &Settings,
  req: &FetchRequest,
  hop: &Hop<'_>,
  json_body: bool,
  token: &str,
) -> std::result::Result<reqwest::Response, reqwest::Error> {
  let json_body = json_body && hop.body.is_some();
  let mut rb = http.request(hop.method.clone(), hop.url.clone());
  for (k, v) in &req.headers {
    // A shaped chat body is JSON whatever generic type the host's fetch defaulted to.
    let generic_type = json_body && k.eq_ignore_ascii_case("content-type") && v.starts_with("text/plain");
    let stale_body_header = hop.body.is_none() && req.body.is_some() && is_body_header(k);
    if passes(settings, k) && !generic_type && !stale_body_header {
      rb = rb.header(k, v);
    }
  }
  if json_body
    && !req
      .headers
      .iter()
      .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && !v.starts_with("text/plain"))
  {
    rb = rb.header("content-type", "application/json");
  }
  let host_ua = hint(&req.headers, "user-agent");
  for (k, v) in crate::identity::request_identity(settings, host_ua.as_deref())
    .headers
    .iter()
  {
    rb = rb.header(k, v);
  }
  // The Anthropic-compatible route authenticates with x-api-key (docs/kimi-wire.md §8).
  if hop.url.path().ends_with("/messages") {
    rb = rb.header("x-api-key", token);
  } else {
    rb = rb.header("Authorization", format!("Bearer {token}"));
  }
  if let Some(b) = hop.body {
    rb = rb.body(b.clone());
  }
  rb.send().await
}

/// Sends the request and follows same-origin redirects the way WHATWG fetch does (303, and
/// 301/302 after a POST, become a GET without the body; at most 20 hops). A redirect to
/// another origin is handed back as is, so the credential never leaves the Kimi API.
async fn send_following(
  http: &reqwest::Client,
  settings: &Settings,
  req: &FetchRequest,
  body: &Option<Bytes>,
  json_body: bool,
  token: &str,
  cancel: &Cancel,
) -> Result<(reqwest::Response, bool)> {
  let url =
    reqwest::Url::parse(&req.url).map_err(|_| KimiError::bad_input("kimi fetch needs an absolute http(s) URL."))?;
  // Checked in `check_target`.
  let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
  let mut hop = Hop {
    method,
    url,
    body: body.as_ref(),
  };
  let mut redirected = false;
  for hops in 0.. {
    let resp = cancel
      .run(async {
        send_once(http, settings, req, &hop, json_body, token)
          .await
          .map_err(|e| KimiError::network("Calling the Kimi API", &e))
      })
      .await?;
    let status = resp.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) || req.redirect == Redirect::Manual {
      return Ok((resp, redirected));
    }
    let Some(location) = resp.headers().get(reqwest::header::LOCATION) else {
      return Ok((resp, redirected));
    };
    if req.redirect == Redirect::Error {
      return Err(KimiError::new(
        Code::Network,
        format!("The Kimi API answered HTTP {status} (a redirect) and the request set redirect: \"error\"."),
      ));
    }
    let next = location
      .to_str()
      .ok()
      .and_then(|l| hop.url.join(l).ok())
      .filter(|u| matches!(u.scheme(), "http" | "https"))
      .ok_or_else(|| {
        KimiError::new(
          Code::Network,
          format!("The Kimi API answered HTTP {status} with an invalid Location header."),
        )
      })?;
    if origin_of(&next) != origin_of(&hop.url) {
      return Ok((resp, redirected));
    }
    if hops >= MAX_REDIRECTS {
      return Err(KimiError::new(
        Code::Network,
        format!("The Kimi API redirected more than {MAX_REDIRECTS} times."),
      ));
    }
    let to_get = status == 303 && hop.method != reqwest::Method::HEAD && hop.method != reqwest::Method::GET
      || matches!(status, 301 | 302) && hop.method == reqwest::Method::POST;
    if to_get {
      hop.method = reqwest::Method::GET;
      hop.body = None;
    }
    hop.url = next;
    redirected = true;
  }
  unreachable!("the loop returns")
}

fn response_headers(resp: &reqwest::Response) -> Vec<(String, String)> {
  resp
    .headers()
    .iter()
    .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
    .collect()
}

pub async fn fetch(
  settings: &Settings,
  config: &FetchConfig,
  req: FetchRequest,
  cancel: &Cancel,
) -> Result<FetchResponse> {
  check_target(settings, &req)?;
  let http = crate::http::fetch_client(
    config
      .connect_timeout_ms
      .unwrap_or(crate::http::DEFAULT_CONNECT_TIMEOUT_MS),
    config.read_timeout_ms.unwrap_or(crate::http::DEFAULT_READ_TIMEOUT_MS),
  )?;
  let mut req = req;
  let (body, json_body, anthropic_beta) = shaped_body(
    settings,
    config,
    &req,
    if config.shape {
      crate::models::cached(settings)
    } else {
      vec![]
    },
  );
  // The host's bytes are not needed once shaped: free them for the rest of the request (a 4 MB
  // turn would otherwise hold both copies until the answer ends). `Some` keeps "had a body".
  if json_body {
    req.body = Some(Bytes::new());
  }
  // The Anthropic route as kimi-code sends it: `?beta=true` and the beta flags the body needs.
  if json_body && crate::anthropic::is_messages(&req.url) {
    req.url = crate::anthropic::with_beta_query(&req.url);
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("anthropic-beta"));
    if let Some(v) = anthropic_beta {
      req.headers.push(("anthropic-beta".into(), v));
    }
  }
  // Large inline images become `ms://` references (a separate step from shaping, issue #16).
  let (body, warnings) = match (&body, json_body) {
    (Some(b), true) => {
      let off = crate::platform::images::offload(settings, b, cancel).await?;
      (off.body.or(body), off.warnings)
    }
    _ => (body, vec![]),
  };
  let mut grant = cancel.run(auth::access_token(settings)).await?;
  let mut retried = false;
  let resp = loop {
    let resp = send_following(&http, settings, &req, &body, json_body, &grant.token, cancel).await?;
    // One forced refresh and one retry on 401, never more (the body is always replayable here).
    if resp.0.status().as_u16() == 401 && !retried && grant.source != auth::TokenSource::ApiKey {
      retried = true;
      match cancel.run(auth::token_after_rejection(settings, &grant.token)).await {
        Ok(g) if g.token != grant.token => {
          grant = g;
          continue;
        }
        Ok(_) => break (resp, None),
        Err(e) => break (resp, Some(e)),
      }
    }
    break (resp, None);
  };
  let ((mut resp, redirected), refresh_error) = resp;
  let status = resp.status().as_u16();
  let status_text = resp.status().canonical_reason().unwrap_or("").to_string();
  let url = resp.url().to_string();
  let mut headers = response_headers(&resp);
  for w in warnings {
    headers.push((c::WARNING_HEADER.into(), w));
  }
  if status < 400 {
    return Ok(FetchResponse {
      status,
      status_text,
      url,
      redirected,
      headers,
      body: Body::Stream(StreamBody::spawn(resp, cancel.clone())),
    });
  }
  // Error bodies are usually small JSON: buffer the start to classify it, then hand the host
  // the whole body unchanged (the rest streams behind the buffered start).
  let retry_after = crate::http::retry_after(resp.headers());
  let (buf, ended) = read_error_body(&mut resp, MAX_ERROR_BODY, cancel).await?;
  let text = String::from_utf8_lossy(&buf);
  let code = match &refresh_error {
    Some(e) => Some(e.code),
    None => crate::api_error::classify(status, &text, retry_after, settings).map(|e| e.code),
  };
  if let Some(code) = code {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("content-encoding"));
    headers.push((ERROR_CODE_HEADER.into(), code.as_str().into()));
  }
  let body = if ended {
    Body::Buffered(Some(Bytes::from(buf)))
  } else {
    Body::Stream(StreamBody::spawn_after(Some(Bytes::from(buf)), resp, cancel.clone()))
  };
  Ok(FetchResponse {
    status,
    status_text,
    url,
    redirected,
    headers,
    body,
  })
}

/// Classifies a response a host received (status + body text) into a coded error.
pub fn classify(settings: &Settings, status: u16, body: &str, retry_after: Option<f64>) -> Option<KimiError> {
  crate::api_error::classify(status, body, retry_after, settings)
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::time::Duration;

  fn settings_for(profile: &str) -> Settings {
    let env = |k: &str| (k == "KIMI_NATIVE_HOME").then(|| "/x".to_string());
    let opts = crate::config::Options {
      profile: Some(profile.into()),
      ..Default::default()
    };
    Settings::resolve_with(&opts, &env).unwrap()
  }

  #[test]
  fn only_owned_headers_are_replaced() {
    let native = settings_for("native");
    let code = settings_for("kimi-code");
    for h in [
      "User-Agent",
      "authorization",
      "X-Msh-Platform",
      "x-msh-device-id",
      "x-kimi-native-effort",
      "Host",
      "Accept-Encoding",
    ] {
      assert!(!passes(&native, h) && !passes(&code, h), "{h}");
    }
    // /search and /fetch need the tool-call id (docs/kimi-wire.md §5.1); it is the host's, not ours.
    for h in ["content-type", "accept", "anthropic-beta", "X-Msh-Tool-Call-Id"] {
      assert!(passes(&native, h) && passes(&code, h), "{h}");
    }
    // opencode's session headers pass as opencode sends them, except in an official profile.
    for h in ["x-session-affinity", "X-Session-Id", "x-parent-session-id"] {
      assert!(passes(&native, h), "{h}");
      assert!(!passes(&code, h) && !passes(&settings_for("kimi-cli"), h), "{h}");
    }
  }

  fn spawn_plain(resp: reqwest::Response) -> StreamBody {
    StreamBody::spawn(resp, Cancel::default())
  }

  fn response_of(chunks: Vec<std::result::Result<&'static [u8], std::io::Error>>) -> reqwest::Response {
    let stream = futures_util::stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static)));
    reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)))
  }

  #[tokio::test]
  async fn read_ahead_coalesces_what_arrived_and_reports_errors_after_the_data() {
    let mut body = spawn_plain(response_of(vec![
      Ok(b"data: 1\n\n"),
      Ok(b"data: 2\n\n"),
      Err(std::io::Error::other("reset")),
    ]));
    // Let the reader task run ahead of the consumer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    match body.poll_now() {
      Ok(Ready::Data(d)) => assert_eq!(d, b"data: 1\n\ndata: 2\n\n"),
      _ => panic!("expected both chunks in one piece"),
    }
    let err = body.poll_now().err().expect("the error comes after the data");
    assert_eq!(err.code, Code::Network);
    assert!(matches!(body.poll_now(), Ok(Ready::End)));
  }

  #[tokio::test]
  async fn a_consumer_that_found_nothing_is_woken_once_for_data_and_once_for_the_end() {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut body = spawn_plain(reqwest::Response::from(http::Response::new(
      reqwest::Body::wrap_stream(stream),
    )));
    let (wake_tx, mut wakes) = tokio::sync::mpsc::unbounded_channel::<()>();
    body.notifier().set_hook(Box::new(move || {
      let _ = wake_tx.send(());
    }));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    tx.send(Ok(Bytes::from_static(b"data: x\n\n"))).unwrap();
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken for data");
    assert!(matches!(body.poll_now(), Ok(Ready::Data(d)) if d == b"data: x\n\n"));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken for the end");
    assert!(matches!(body.poll_now(), Ok(Ready::End)));
    // Not waiting any more: no further wake-ups.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(wakes.try_recv().is_err());
  }

  #[tokio::test]
  async fn cancelling_wakes_the_consumer_and_closes_the_upstream() {
    let cancel = Cancel::default();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let resp = reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)));
    let mut body = StreamBody::spawn(resp, cancel.clone());
    let (wake_tx, mut wakes) = tokio::sync::mpsc::unbounded_channel::<()>();
    body.notifier().set_hook(Box::new(move || {
      let _ = wake_tx.send(());
    }));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken by the cancel");
    assert_eq!(body.poll_now().err().map(|e| e.code), Some(Code::Cancelled));
    for _ in 0..100 {
      if tx.is_closed() {
        return;
      }
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the upstream stayed open after the cancel");
  }

  #[tokio::test]
  async fn one_read_never_exceeds_the_cap() {
    static BIG: [u8; 100 * 1024] = [b'x'; 100 * 1024];
    let mut body = spawn_plain(response_of(vec![
      Ok(&BIG[..]),
      Ok(&BIG[..]),
      Ok(&BIG[..]),
      Ok(&BIG[..]),
    ]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut sizes = Vec::new();
    while let Some(piece) = body.next().await.unwrap() {
      sizes.push(piece.len());
    }
    assert_eq!(sizes.iter().sum::<usize>(), 400 * 1024);
    assert!(sizes.iter().all(|&n| n <= MAX_READ + 100 * 1024), "{sizes:?}");
    assert!(sizes.len() >= 2, "{sizes:?}");
  }

  #[tokio::test]
  async fn dropping_the_body_stops_the_reader() {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let body = spawn_plain(reqwest::Response::from(http::Response::new(
      reqwest::Body::wrap_stream(stream),
    )));
    tx.send(Ok(Bytes::from_static(b"x"))).unwrap();
    drop(body);
    // The aborted task drops the response and with it the receiving end of the stream.
    for _ in 0..100 {
      if tx.is_closed() {
        return;
      }
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the reader task kept the response alive after the body was dropped");
  }

  #[test]
  fn credentials_go_only_to_the_configured_api_origin() {
    let env = |k: &str| match k {
      "KIMI_NATIVE_HOME" => Some("/x".to_string()),
      "KIMI_CODE_BASE_URL" => Some("http://127.0.0.1:8080/coding/v1".to_string()),
      _ => None,
    };
    let s = Settings::resolve_with(&crate::config::Options::default(), &env).unwrap();
    let req = |url: &str, method: &str| FetchRequest {
      url: url.into(),
      method: method.into(),
      headers: vec![],
      body: None,
      redirect: Redirect::Follow,
    };
    assert!(check_target(&s, &req("http://127.0.0.1:8080/coding/v1/chat/completions", "POST")).is_ok());
    for bad in [
      "http://127.0.0.1:8081/coding/v1/models",
      "https://127.0.0.1:8080/coding/v1/models",
      "http://evil.example/coding/v1/models?token=secret-value",
      "file:///etc/passwd",
      "/coding/v1/models",
    ] {
      let err = check_target(&s, &req(bad, "GET")).unwrap_err();
      assert_eq!(err.code, Code::BadInput, "{bad}");
      assert!(!err.message.contains("secret-value"), "{}", err.message);
    }
    let err = check_target(&s, &req("http://127.0.0.1:8080/coding/v1/models", "GE T")).unwrap_err();
    assert_eq!(err.code, Code::BadInput);
  }

  #[test]
  fn chat_path_detection() {
    assert!(is_chat("https://api.kimi.com/coding/v1/chat/completions"));
    assert!(is_chat("http://127.0.0.1:1/coding/v1/chat/completions?x=1"));
    assert!(!is_chat("https://api.kimi.com/coding/v1/models"));
  }
}
