//! The OAuth wire calls (RFC 8628 device flow and refresh), byte-for-byte as the official
//! clients send them: form bodies with `client_id` only (no scope, no PKCE), fixed field order,
//! the profile's identity headers (docs/kimi-wire.md §1, §2).

use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::token::{now_secs, StoredLogin, TokenResponse};
use serde::Deserialize;
use std::time::Duration;

/// `application/x-www-form-urlencoded` exactly as URLSearchParams / aiohttp encode it (the
/// WHATWG byte serializer: `*-._` and alphanumerics kept, space as `+`).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
  form_urlencoded::Serializer::new(String::new())
    .extend_pairs(pairs)
    .finish()
}

#[derive(Clone, PartialEq)]
pub struct DeviceAuthorization {
  pub device_code: String,
  pub user_code: String,
  pub verification_uri: String,
  pub verification_uri_complete: String,
  pub expires_in: Option<f64>,
  pub interval: u64,
}

/// The device code lets whoever holds it collect the tokens: never printed.
impl std::fmt::Debug for DeviceAuthorization {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("DeviceAuthorization")
      .field("device_code", &"[redacted]")
      .field("user_code", &self.user_code)
      .field("verification_uri", &self.verification_uri)
      .field("verification_uri_complete", &self.verification_uri_complete)
      .field("expires_in", &self.expires_in)
      .field("interval", &self.interval)
      .finish()
  }
}

#[derive(Deserialize)]
struct RawDeviceAuthorization {
  device_code: Option<String>,
  user_code: Option<String>,
  verification_uri: Option<String>,
  verification_uri_complete: Option<String>,
  expires_in: Option<f64>,
  interval: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OAuthErrorBody {
  pub error: Option<serde_json::Value>,
  pub error_description: Option<String>,
  pub message: Option<String>,
  pub detail: Option<String>,
}

impl OAuthErrorBody {
  pub fn parse(text: &str) -> OAuthErrorBody {
    serde_json::from_str(text).unwrap_or_default()
  }
  pub fn code(&self) -> Option<&str> {
    match &self.error {
      Some(serde_json::Value::String(s)) => Some(s.as_str()),
      _ => None,
    }
  }
  /// kimi-code's `extractApiErrorMessage` order.
  pub fn describe(&self) -> Option<String> {
    self
      .error_description
      .clone()
      .or_else(|| self.message.clone())
      .or_else(|| self.detail.clone())
      .or_else(|| match &self.error {
        Some(serde_json::Value::Object(o)) => o.get("message").and_then(|m| m.as_str()).map(String::from),
        _ => None,
      })
      .map(|s| crate::error::redact(&s))
  }
}

#[derive(Debug)]
pub enum PollOutcome {
  Token(StoredLogin),
  Pending,
  SlowDown,
  Expired,
  Denied(String),
}

pub enum RefreshFailure {
  /// The OAuth server refused the refresh token (`invalid_grant`, or 401/403 with an OAuth
  /// error body): a new login is needed.
  Unauthorized(String),
  /// 429/5xx/transport, or an answer that is not the OAuth server's: worth retrying.
  Transient(KimiError),
  Fatal(KimiError),
}

pub struct OAuthClient {
  http: reqwest::Client,
  host: String,
  headers: Vec<(String, String)>,
}

impl OAuthClient {
  /// Refuses (`KIMI_UNTRUSTED_ORIGIN`) an OAuth host or API base that may not receive a
  /// credential: a refresh token, a device code and the tokens they yield are all credentials.
  pub fn new(settings: &Settings) -> Result<OAuthClient> {
    if let Some(refusal) = settings.origin_refusal() {
      return Err(refusal);
    }
    let headers = crate::identity::oauth_headers(settings);
    Ok(OAuthClient {
      http: crate::http::oauth_client()?,
      host: settings.oauth_host.clone(),
      headers,
    })
  }

  async fn post(&self, path: &str, body: String) -> std::result::Result<(u16, String), reqwest::Error> {
    let mut req = self
      .http
      .post(format!("{}{}", self.host, path))
      .timeout(Duration::from_secs(c::OAUTH_HTTP_TIMEOUT_SECS));
    for (k, v) in &self.headers {
      req = req.header(k, v);
    }
    let resp = req.body(body).send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, text))
  }

  pub async fn device_authorization(&self) -> Result<DeviceAuthorization> {
    let body = form_encode(&[("client_id", c::CLIENT_ID)]);
    let (status, text) = self
      .post(c::DEVICE_AUTHORIZATION_PATH, body)
      .await
      .map_err(|e| KimiError::network("Contacting the Kimi login server", &e))?;
    if status != 200 {
      let err = OAuthErrorBody::parse(&text);
      let code = if status >= 500 { Code::Server } else { Code::OAuth };
      return Err(
        KimiError::new(
          code,
          format!(
            "Device authorization failed (HTTP {status}: {}). {}",
            err
              .describe()
              .or(err.code().map(String::from))
              .unwrap_or_else(|| "no details".into()),
            if status >= 500 {
              "The login server has a problem; try again in a minute."
            } else {
              "Check the OAuth host setting (KIMI_CODE_OAUTH_HOST)."
            }
          ),
        )
        .with_status(status),
      );
    }
    let raw: RawDeviceAuthorization = serde_json::from_str(&text).map_err(|_| {
      KimiError::new(
        Code::OAuth,
        "The login server sent an unreadable device authorization response.",
      )
      .with_status(status)
    })?;
    let missing = |what: &str| {
      KimiError::new(
        Code::OAuth,
        format!("The login server's device authorization lacks `{what}`."),
      )
    };
    Ok(DeviceAuthorization {
      device_code: raw
        .device_code
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("device_code"))?,
      user_code: raw
        .user_code
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("user_code"))?,
      verification_uri: raw.verification_uri.unwrap_or_default(),
      verification_uri_complete: raw
        .verification_uri_complete
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("verification_uri_complete"))?,
      expires_in: raw.expires_in.filter(|e| *e > 0.0),
      interval: raw
        .interval
        .map(|i| i.max(1.0) as u64)
        .unwrap_or(c::DEFAULT_POLL_INTERVAL_SECS),
    })
  }

  pub async fn poll(&self, device_code: &str) -> Result<PollOutcome> {
    let body = form_encode(&[
      ("client_id", c::CLIENT_ID),
      ("device_code", device_code),
      ("grant_type", c::DEVICE_CODE_GRANT),
    ]);
    let (status, text) = self
      .post(c::TOKEN_PATH, body)
      .await
      .map_err(|e| KimiError::network("Polling the Kimi login server", &e))?;
    if status == 200 {
      if let Some(login) = serde_json::from_str::<TokenResponse>(&text)
        .ok()
        .and_then(|t| t.into_login(now_secs()))
      {
        return Ok(PollOutcome::Token(login));
      }
    }
    if status >= 500 {
      return Err(
        KimiError::new(
          Code::Server,
          format!("The Kimi login server failed (HTTP {status}). Try again in a minute."),
        )
        .with_status(status),
      );
    }
    let err = OAuthErrorBody::parse(&text);
    match err.code() {
      Some("authorization_pending") => Ok(PollOutcome::Pending),
      Some("slow_down") => Ok(PollOutcome::SlowDown),
      Some("expired_token") => Ok(PollOutcome::Expired),
      Some("access_denied") => Ok(PollOutcome::Denied(
        err.describe().unwrap_or_else(|| "access denied".into()),
      )),
      other => Err(
        KimiError::new(
          Code::OAuth,
          format!(
            "Device token polling failed (HTTP {status}: {}).",
            err
              .describe()
              .or(other.map(String::from))
              .unwrap_or_else(|| "unexpected response".into())
          ),
        )
        .with_status(status),
      ),
    }
  }

  pub async fn refresh(&self, refresh_token: &str) -> std::result::Result<StoredLogin, RefreshFailure> {
    let body = form_encode(&[
      ("client_id", c::CLIENT_ID),
      ("grant_type", "refresh_token"),
      ("refresh_token", refresh_token),
    ]);
    let (status, text) = match self.post(c::TOKEN_PATH, body).await {
      Ok(r) => r,
      Err(e) => {
        return Err(RefreshFailure::Transient(KimiError::network(
          "Refreshing the Kimi token",
          &e,
        )))
      }
    };
    if status == 200 {
      return serde_json::from_str::<TokenResponse>(&text)
        .ok()
        .and_then(|t| t.into_login(now_secs()))
        .ok_or_else(|| {
          RefreshFailure::Fatal(KimiError::new(
            Code::OAuth,
            "The login server sent an unreadable token response.",
          ))
        });
    }
    match classify_refresh_answer(status, &text) {
      RefreshAnswer::Refused(detail) => Err(RefreshFailure::Unauthorized(detail)),
      RefreshAnswer::OAuthError(detail) => {
        let e = KimiError::new(
          if status >= 500 { Code::Server } else { Code::OAuth },
          format!("Token refresh failed (HTTP {status}: {detail})."),
        )
        .with_status(status);
        if c::REFRESH_RETRY_STATUSES.contains(&status) {
          Err(RefreshFailure::Transient(e))
        } else {
          Err(RefreshFailure::Fatal(e))
        }
      }
      RefreshAnswer::NotOAuth => Err(RefreshFailure::Transient(
        KimiError::new(
          Code::Server,
          format!(
            "The token refresh at {} got HTTP {status} without an OAuth answer (a proxy, firewall or outage in the way?). \
             The login is kept and the refresh is tried again later.",
            crate::config::origin_of(&self.host)
          ),
        )
        .with_status(status),
      )),
    }
  }
}

enum RefreshAnswer {
  /// The OAuth server refused the refresh token: the login is over.
  Refused(String),
  /// Another OAuth error (JSON with an `error` code): retried or reported, never a relogin.
  OAuthError(String),
  /// Not the OAuth server's answer (an HTML page, an empty body, a JSON body without an OAuth
  /// `error`): says nothing about the refresh token, which may not even have reached the server.
  NotOAuth,
}

/// Only the OAuth server's own answer ends a login: `invalid_grant`, or a 401/403 whose JSON
/// body carries an OAuth `error`. The official clients end it on any 401/403, which lets a
/// proxy's error page log the user out.
fn classify_refresh_answer(status: u16, text: &str) -> RefreshAnswer {
  let err = OAuthErrorBody::parse(text);
  let Some(code) = err.code() else {
    return if c::REFRESH_RETRY_STATUSES.contains(&status) {
      RefreshAnswer::OAuthError(err.describe().unwrap_or_else(|| format!("HTTP {status}")))
    } else {
      RefreshAnswer::NotOAuth
    };
  };
  let detail = err.describe().unwrap_or_else(|| code.to_string());
  if code == "invalid_grant" || status == 401 || status == 403 {
    RefreshAnswer::Refused(detail)
  } else {
    RefreshAnswer::OAuthError(detail)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Form bodies of the golden captures (vendored in `__test__/golden`), in capture order.
  fn golden_form_bodies(log: &str) -> Vec<String> {
    log
      .lines()
      .filter(|l| !l.trim().is_empty())
      .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
      .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/oauth/")))
      .map(|r| r["body"].as_str().unwrap().to_string())
      .collect()
  }

  #[test]
  fn form_bodies_match_golden_bytes() {
    let device = form_encode(&[("client_id", c::CLIENT_ID)]);
    let poll = form_encode(&[
      ("client_id", c::CLIENT_ID),
      ("device_code", "DEVCODE"),
      ("grant_type", c::DEVICE_CODE_GRANT),
    ]);
    let refresh = form_encode(&[
      ("client_id", c::CLIENT_ID),
      ("grant_type", "refresh_token"),
      ("refresh_token", "RT-1"),
    ]);
    assert_eq!(device.len(), 46);
    // kimi-code (URLSearchParams): device authorization, then polls.
    let ts = golden_form_bodies(include_str!("../__test__/golden/ts-login.jsonl"));
    assert!(ts.len() >= 2, "{ts:?}");
    assert_eq!(ts[0], device);
    assert!(ts[1..].iter().all(|b| *b == poll), "{ts:?}");
    // kimi-cli (aiohttp): device authorization, polls, then a refresh.
    let py = golden_form_bodies(include_str!("../__test__/golden/py-login-refresh-models.jsonl"));
    assert_eq!(py.first(), Some(&device));
    assert_eq!(py.last(), Some(&refresh));
    assert!(py[1..py.len() - 1].iter().all(|b| *b == poll), "{py:?}");
    // The characters URLSearchParams leaves alone or rewrites.
    assert_eq!(form_encode(&[("a", "x y/+*-._~é")]), "a=x+y%2F%2B*-._%7E%C3%A9");
  }

  #[test]
  fn only_an_oauth_answer_ends_a_login() {
    let refused = |status, body: &str| matches!(classify_refresh_answer(status, body), RefreshAnswer::Refused(_));
    let not_oauth = |status, body: &str| matches!(classify_refresh_answer(status, body), RefreshAnswer::NotOAuth);
    assert!(refused(400, r#"{"error":"invalid_grant","error_description":"used"}"#));
    assert!(refused(401, r#"{"error":"invalid_client"}"#));
    assert!(refused(403, r#"{"error":"unauthorized_client"}"#));
    // A proxy's page, an empty answer, an API-style envelope: the token was maybe never seen.
    assert!(not_oauth(403, "<html><body>Access denied by policy</body></html>"));
    assert!(not_oauth(401, ""));
    assert!(not_oauth(403, r#"{"error":{"message":"blocked","type":"x"}}"#));
    assert!(not_oauth(407, "Proxy Authentication Required"));
    // Retryable statuses stay retryable, with or without a body.
    assert!(matches!(
      classify_refresh_answer(503, "<html>"),
      RefreshAnswer::OAuthError(_)
    ));
    assert!(matches!(
      classify_refresh_answer(400, r#"{"error":"invalid_request"}"#),
      RefreshAnswer::OAuthError(_)
    ));
  }

  #[test]
  fn error_body_description_order() {
    let e = OAuthErrorBody::parse(r#"{"error":"access_denied","error_description":"user said no"}"#);
    assert_eq!(
      (e.code(), e.describe().as_deref()),
      (Some("access_denied"), Some("user said no"))
    );
    let e = OAuthErrorBody::parse(r#"{"error":{"message":"boom","type":"x"}}"#);
    assert_eq!((e.code(), e.describe().as_deref()), (None, Some("boom")));
    assert!(OAuthErrorBody::parse("<html>").describe().is_none());
  }
}
