//! The request path every host request takes: hint headers → shaping → fresh bearer +
//! identity headers → reqwest → one forced refresh and one retry on 401 → a streaming body.
//! HTTP errors stay responses (fetch semantics) but are classified into a header.

mod body;
mod redirect;
mod request;

pub use body::{Body, Ready, ReadyNotifier, StreamBody};
pub use request::{check_credential_target, FetchConfig, FetchRequest, Redirect};

use crate::auth;
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};
use crate::shaping::{self, anthropic, ShapeOptions};
use body::read_error_body;
use bytes::Bytes;
use redirect::send_following;
use request::{check_target, hint, Shaped};

/// Response header carrying the kimi-native error code of a non-2xx response.
pub const ERROR_CODE_HEADER: &str = "x-kimi-native-error";
/// What is buffered of an error body to classify it; the rest is streamed to the host unchanged.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub struct FetchResponse {
  pub status: u16,
  pub status_text: String,
  pub url: String,
  /// True when a (same-origin) redirect was followed, as `Response.redirected`.
  pub redirected: bool,
  pub headers: Vec<(String, String)>,
  pub body: Body,
}

fn is_chat(url: &str) -> bool {
  let path = url.split(['?', '#']).next().unwrap_or(url);
  path.ends_with("/chat/completions")
}

/// Applies shaping to a JSON chat body (either dialect); anything else passes through byte
/// for byte.
fn shaped_body(
  settings: &Settings,
  config: &FetchConfig,
  req: &FetchRequest,
  models: Vec<crate::models::ModelInfo>,
) -> Shaped {
  let Some(body) = req.body.as_ref() else {
    return Shaped::unchanged(None);
  };
  let messages_route = anthropic::is_messages(&req.url);
  if !config.shape || !req.method.eq_ignore_ascii_case("POST") || !(is_chat(&req.url) || messages_route) {
    return Shaped::unchanged(Some(body));
  }
  let opts = ShapeOptions {
    profile: Some(settings.profile),
    model: None,
    effort: hint(&req.headers, c::HINT_HEADER_EFFORT).or_else(|| config.effort.clone()),
    session_id: hint(&req.headers, c::HINT_HEADER_SESSION).or_else(|| config.session_id.clone()),
    models,
    keep: settings.thinking_keep.clone(),
  };
  if !messages_route {
    // Chat bodies: the lazy path parses only what the rules touch (issue #17).
    return match shaping::shape_bytes(body, &opts) {
      Some(v) => Shaped::json(v, None),
      None => Shaped::unchanged(Some(body)),
    };
  }
  let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) else {
    return Shaped::unchanged(Some(body));
  };
  anthropic::shape(&mut json, &opts);
  let beta = anthropic::beta_header(hint(&req.headers, "anthropic-beta").as_deref(), &json);
  match serde_json::to_vec(&json) {
    Ok(v) => Shaped::json(v, beta),
    Err(_) => Shaped::unchanged(Some(body)),
  }
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
  let mut shaped = shaped_body(
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
  if shaped.json {
    req.body = Some(Bytes::new());
  }
  // The Anthropic route as kimi-code sends it: `?beta=true` and the beta flags the body needs.
  if shaped.json && anthropic::is_messages(&req.url) {
    req.url = anthropic::with_beta_query(&req.url);
    req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("anthropic-beta"));
    if let Some(v) = shaped.anthropic_beta.take() {
      req.headers.push(("anthropic-beta".into(), v));
    }
  }
  // Large inline images become `ms://` references (a separate step from shaping, issue #16).
  let mut warnings = vec![];
  if let (Some(b), true) = (&shaped.body, shaped.json) {
    let off = crate::platform::images::offload(settings, b, cancel).await?;
    if let Some(smaller) = off.body {
      shaped.body = Some(smaller);
    }
    warnings = off.warnings;
  }
  let grant = cancel.run(auth::access_token(settings)).await?;
  // The body is always replayable here, so a 401 gets its one forced refresh and retry; a
  // refresh that fails leaves the 401 to the host, coded with the refresh's error.
  let (http, sent, shaped) = (&http, &req, &shaped);
  let send = |token: String| async move { send_following(http, settings, sent, shaped, &token, cancel).await };
  let retried = cancel
    .run(auth::with_retry(
      settings,
      grant,
      |(r, _): &(reqwest::Response, bool)| r.status().as_u16(),
      send,
    ))
    .await?;
  let (mut resp, redirected) = retried.answer;
  let refresh_error = retried.refresh_error;
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

  #[test]
  fn chat_path_detection() {
    assert!(is_chat("https://api.kimi.com/coding/v1/chat/completions"));
    assert!(is_chat("http://127.0.0.1:1/coding/v1/chat/completions?x=1"));
    assert!(!is_chat("https://api.kimi.com/coding/v1/models"));
  }
}
