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
use std::time::Duration;

/// Response header carrying the kimi-native error code of a non-2xx response.
pub const ERROR_CODE_HEADER: &str = "x-kimi-native-error";
/// Error bodies are small JSON; this bounds what is buffered to classify them.
const MAX_ERROR_BODY: usize = 64 * 1024;

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
}

pub enum Body {
  Stream(reqwest::Response),
  Buffered(Option<Bytes>),
}

pub struct FetchResponse {
  pub status: u16,
  pub status_text: String,
  pub url: String,
  pub headers: Vec<(String, String)>,
  pub body: Body,
}

impl Body {
  /// The next chunk; ready chunks are coalesced (up to 256 KiB) without waiting, so SSE is
  /// never delayed but a fast stream crosses into JS in fewer, larger pieces.
  pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
    match self {
      Body::Buffered(b) => Ok(b.take()),
      Body::Stream(resp) => {
        let first = match resp.chunk().await {
          Ok(Some(c)) => c,
          Ok(None) => return Ok(None),
          Err(e) => return Err(KimiError::network("Reading the Kimi response", &e)),
        };
        let mut buf: Option<bytes::BytesMut> = None;
        loop {
          let next = futures_util::FutureExt::now_or_never(resp.chunk());
          match next {
            Some(Ok(Some(more))) => {
              let b = buf.get_or_insert_with(|| bytes::BytesMut::from(&first[..]));
              b.extend_from_slice(&more);
              if b.len() >= 256 * 1024 {
                break;
              }
            }
            // An error or the end is reported on the next call.
            _ => break,
          }
        }
        Ok(Some(buf.map(|b| b.freeze()).unwrap_or(first)))
      }
    }
  }
}

fn is_identity_or_managed(name: &str) -> bool {
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
  ) || n.starts_with("x-msh-")
    || n == c::HINT_HEADER_EFFORT
    || n == c::HINT_HEADER_SESSION
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
/// Returns the body to send and whether it is a shaped JSON chat body.
fn shaped_body(
  settings: &Settings,
  config: &FetchConfig,
  req: &FetchRequest,
  models: Vec<crate::models::ModelInfo>,
) -> (Option<Bytes>, bool) {
  let Some(body) = req.body.as_ref() else {
    return (None, false);
  };
  if !config.shape || !req.method.eq_ignore_ascii_case("POST") || !is_chat(&req.url) {
    return (Some(body.clone()), false);
  }
  let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
    return (Some(body.clone()), false);
  };
  let opts = ShapeOptions {
    profile: Some(settings.profile),
    model: None,
    effort: hint(&req.headers, c::HINT_HEADER_EFFORT).or_else(|| config.effort.clone()),
    session_id: hint(&req.headers, c::HINT_HEADER_SESSION).or_else(|| config.session_id.clone()),
    models,
    keep: shaping::keep_from_env(),
  };
  shaping::shape(&mut json, &opts);
  match serde_json::to_vec(&json) {
    Ok(v) => (Some(Bytes::from(v)), true),
    Err(_) => (Some(body.clone()), false),
  }
}

fn cached_models(settings: &Settings) -> Vec<crate::models::ModelInfo> {
  use std::collections::HashMap;
  use std::sync::{Mutex, OnceLock};
  // The cache file changes only on login/refresh; re-read it at most every 30 s.
  type Entry = (std::time::Instant, Vec<crate::models::ModelInfo>);
  static CACHE: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
  let key = settings.login_key();
  let map = CACHE.get_or_init(Default::default);
  if let Some((at, m)) = map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
    if at.elapsed() < Duration::from_secs(30) {
      return m.clone();
    }
  }
  let models = crate::models::load_cache(settings).unwrap_or_default();
  map
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .insert(key, (std::time::Instant::now(), models.clone()));
  models
}

async fn send_once(
  http: &reqwest::Client,
  settings: &Settings,
  req: &FetchRequest,
  body: &Option<Bytes>,
  json_body: bool,
  token: &str,
) -> std::result::Result<reqwest::Response, reqwest::Error> {
  let method = reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes()).unwrap_or(reqwest::Method::GET);
  let mut rb = http.request(method, &req.url);
  for (k, v) in &req.headers {
    // A shaped chat body is JSON whatever generic type the host's fetch defaulted to.
    let generic_type = json_body && k.eq_ignore_ascii_case("content-type") && v.starts_with("text/plain");
    if !is_identity_or_managed(k) && !generic_type {
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
  for (k, v) in crate::identity::identity(settings).headers.iter() {
    rb = rb.header(k, v);
  }
  // The Anthropic-compatible route authenticates with x-api-key (kimi-wire §8).
  let path = req.url.split('?').next().unwrap_or("");
  if path.ends_with("/messages") {
    rb = rb.header("x-api-key", token);
  } else {
    rb = rb.header("Authorization", format!("Bearer {token}"));
  }
  if let Some(b) = body {
    rb = rb.body(b.clone());
  }
  rb.send().await
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
  if !(req.url.starts_with("http://") || req.url.starts_with("https://")) {
    return Err(KimiError::bad_input(format!(
      "kimi fetch needs an absolute http(s) URL, got {:?}.",
      req.url
    )));
  }
  let http = crate::http::client(
    config
      .connect_timeout_ms
      .unwrap_or(crate::http::DEFAULT_CONNECT_TIMEOUT_MS),
    config.read_timeout_ms.unwrap_or(crate::http::DEFAULT_READ_TIMEOUT_MS),
  )?;
  let (body, json_body) = shaped_body(
    settings,
    config,
    &req,
    if config.shape { cached_models(settings) } else { vec![] },
  );
  let mut grant = cancel.run(auth::access_token(settings, false)).await?;
  let mut retried = false;
  let resp = loop {
    let resp = cancel
      .run(async {
        send_once(&http, settings, &req, &body, json_body, &grant.token)
          .await
          .map_err(|e| KimiError::network("Calling the Kimi API", &e))
      })
      .await?;
    // One forced refresh and one retry on 401, never more (the body is always replayable here).
    if resp.status().as_u16() == 401 && !retried && grant.source != auth::TokenSource::ApiKey {
      retried = true;
      match cancel.run(auth::access_token(settings, true)).await {
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
  let (resp, refresh_error) = resp;
  let status = resp.status().as_u16();
  let status_text = resp.status().canonical_reason().unwrap_or("").to_string();
  let url = resp.url().to_string();
  let mut headers = response_headers(&resp);
  if status < 400 {
    return Ok(FetchResponse {
      status,
      status_text,
      url,
      headers,
      body: Body::Stream(resp),
    });
  }
  // Error bodies are small: buffer to classify, then replay them to the host unchanged.
  let retry_after = crate::http::retry_after(resp.headers());
  let mut body = Body::Stream(resp);
  let mut buf = Vec::new();
  while buf.len() < MAX_ERROR_BODY {
    match cancel.run(body.next_chunk()).await {
      Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
      Ok(None) => break,
      Err(e) if e.code == Code::Cancelled => return Err(e),
      Err(_) => break,
    }
  }
  let text = String::from_utf8_lossy(&buf);
  let code = match &refresh_error {
    Some(e) => Some(e.code),
    None => crate::api_error::classify(status, &text, retry_after, settings).map(|e| e.code),
  };
  if let Some(code) = code {
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("content-encoding"));
    headers.push((ERROR_CODE_HEADER.into(), code.as_str().into()));
  }
  Ok(FetchResponse {
    status,
    status_text,
    url,
    headers,
    body: Body::Buffered(Some(Bytes::from(buf))),
  })
}

/// Classifies a response a host received (status + body text) into a coded error.
pub fn classify(settings: &Settings, status: u16, body: &str, retry_after: Option<f64>) -> Option<KimiError> {
  crate::api_error::classify(status, body, retry_after, settings)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn managed_headers_are_replaced_not_merged() {
    for h in [
      "User-Agent",
      "authorization",
      "X-Msh-Platform",
      "x-kimi-native-effort",
      "Host",
      "Accept-Encoding",
    ] {
      assert!(is_identity_or_managed(h), "{h}");
    }
    for h in ["content-type", "accept", "x-session-affinity", "anthropic-beta"] {
      assert!(!is_identity_or_managed(h), "{h}");
    }
  }

  #[test]
  fn chat_path_detection() {
    assert!(is_chat("https://api.kimi.com/coding/v1/chat/completions"));
    assert!(is_chat("http://127.0.0.1:1/coding/v1/chat/completions?x=1"));
    assert!(!is_chat("https://api.kimi.com/coding/v1/models"));
  }
}
