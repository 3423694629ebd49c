//! Kimi's platform services beside chat (docs/kimi-wire.md §6.6–§6.8): the Files API (`ms://`
//! references), web search, URL fetch, data sources and the account's profile. Every call
//! takes the current token, answers a 401 with one forced refresh and one retry, runs under a
//! time limit and stops when its `Cancel` fires; failures are coded `KimiError`s.

pub mod datasource;
pub mod fetch_url;
pub mod files;
pub mod images;
pub mod me;
pub mod search;

use crate::auth;
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use std::future::Future;
use std::time::Duration;

/// How one platform call may run: its time limit and its cancellation.
#[derive(Clone)]
pub struct Call {
  pub timeout: Duration,
  pub cancel: Cancel,
}

impl Call {
  pub fn new(timeout_ms: Option<u64>, default_ms: u64, cancel: Cancel) -> Call {
    Call {
      timeout: Duration::from_millis(timeout_ms.unwrap_or(default_ms).max(1)),
      cancel,
    }
  }

  /// Runs `fut` under this call's time limit and cancellation.
  pub async fn run<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    let limit = self.timeout;
    self
      .cancel
      .run(async move {
        match tokio::time::timeout(limit, fut).await {
          Ok(r) => r,
          Err(_) => Err(KimiError::new(
            Code::Timeout,
            format!(
              "{what} did not finish within {} ms. Retry, or pass a larger timeoutMs.",
              limit.as_millis()
            ),
          )),
        }
      })
      .await
  }
}

/// The client-identity headers every platform request carries. The one place that decides
/// them, so the identity in force (issue #12) applies here without further edits.
pub fn request_headers(settings: &Settings) -> Vec<(String, String)> {
  crate::identity::identity(settings).headers.iter().cloned().collect()
}

/// A successful platform answer.
pub struct Reply {
  pub status: u16,
  pub body: bytes::Bytes,
}

/// Sends `build(http)` with identity headers and the bearer; on 401 it names the token as
/// rejected for one refresh and one retry ([`auth::with_retry`]). Non-2xx answers become coded
/// errors (see [`classify`]).
pub async fn send(
  settings: &Settings,
  what: &str,
  build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Result<Reply> {
  let http = crate::http::default_client()?;
  let grant = auth::access_token(settings).await?;
  let send = |token: String| {
    let mut rb = build(&http);
    for (k, v) in request_headers(settings) {
      rb = rb.header(k, v);
    }
    let rb = rb.header("Authorization", format!("Bearer {token}"));
    async move {
      let resp = rb.send().await.map_err(|e| KimiError::network(what, &e))?;
      let status = resp.status().as_u16();
      let retry = crate::http::retry_after(resp.headers());
      let body = resp.bytes().await.map_err(|e| KimiError::network(what, &e))?;
      Ok((Reply { status, body }, retry))
    }
  };
  let (reply, retry) = auth::with_retry(settings, grant, |(r, _): &(Reply, _)| r.status, send)
    .await?
    .or_refresh_error()?;
  if reply.status >= 400 {
    return Err(classify(
      settings,
      what,
      reply.status,
      &String::from_utf8_lossy(&reply.body),
      retry,
    ));
  }
  Ok(reply)
}

/// POSTs a JSON `body` to `path` under the API base (see [`send`]); `accept` when the service
/// answers in something other than JSON.
pub async fn post_json(
  settings: &Settings,
  what: &str,
  path: &str,
  body: &[u8],
  accept: Option<&str>,
) -> Result<Reply> {
  let url = endpoint(settings, path);
  send(settings, what, |http| {
    let rb = http.post(&url).header("Content-Type", "application/json");
    let rb = match accept {
      Some(a) => rb.header("Accept", a),
      None => rb,
    };
    rb.body(body.to_vec())
  })
  .await
}

/// Maps a platform error answer to a code. The services' own refusals come first: the fetch
/// service's `security_risk` (a 403 that says nothing about the account) and 404s.
pub fn classify(settings: &Settings, what: &str, status: u16, text: &str, retry: Option<f64>) -> KimiError {
  let body = crate::api_error::parse_error_body(text);
  let said = body.message.clone().unwrap_or_else(|| format!("HTTP {status}"));
  if body.kind.as_deref() == Some(c::ERR_TYPE_SECURITY_RISK) {
    return KimiError::new(
      Code::Refused,
      format!("{what}: Kimi refused this URL as a security risk ({said}). Check the URL; Kimi will not fetch it."),
    )
    .with_status(status);
  }
  if status == 404 {
    return KimiError::new(
      Code::NotFound,
      format!(
        "{what}: not found (HTTP 404: {said}). Check the name or id; the service may not exist for this account."
      ),
    )
    .with_status(status);
  }
  match crate::api_error::classify(status, text, retry, settings) {
    Some(mut e) => {
      e.message = format!("{what}: {}", e.message);
      e
    }
    None => KimiError::new(Code::Server, format!("{what}: unexpected HTTP {status}.")).with_status(status),
  }
}

/// Parses a JSON answer, naming the call when the server sent something else.
pub fn json_of(what: &str, reply: &Reply) -> Result<serde_json::Value> {
  serde_json::from_slice(&reply.body).map_err(|_| {
    KimiError::new(
      Code::Server,
      format!(
        "{what}: the server sent invalid JSON (HTTP {}). Retry shortly.",
        reply.status
      ),
    )
  })
}

pub fn endpoint(settings: &Settings, path: &str) -> String {
  format!("{}{path}", settings.base_url)
}
