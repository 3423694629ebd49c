//! The OAuth token as kimi-native stores it, and the refresh-ahead rule (docs/kimi-wire.md §1.5, §2).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StoredLogin {
  pub access_token: String,
  pub refresh_token: String,
  /// Epoch seconds (fractional allowed).
  pub expires_at: f64,
  pub expires_in: f64,
  pub scope: String,
  pub token_type: String,
  /// Set when the server refused the refresh token (401/403/invalid_grant). The login is
  /// kept, not deleted, so `status()` can explain what happened.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub relogin_reason: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub oauth_host: Option<String>,
}

impl std::fmt::Debug for StoredLogin {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("StoredLogin")
      .field("access_token", &"[redacted]")
      .field("refresh_token", &"[redacted]")
      .field("expires_at", &self.expires_at)
      .field("expires_in", &self.expires_in)
      .field("scope", &self.scope)
      .field("token_type", &self.token_type)
      .field("relogin_reason", &self.relogin_reason)
      .field("oauth_host", &self.oauth_host)
      .finish()
  }
}

impl std::fmt::Display for StoredLogin {
  // Never print the secrets, even by accident through {:?}-like paths in logs.
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(
      f,
      "login(expires_at={}, relogin={})",
      self.expires_at,
      self.relogin_reason.is_some()
    )
  }
}

/// A token response from `/api/oauth/token` (poll or refresh). kimi-code's tolerance:
/// `scope` and `token_type` optional, `expires_in` must be a positive number.
#[derive(Deserialize)]
pub struct TokenResponse {
  pub access_token: Option<String>,
  pub refresh_token: Option<String>,
  pub expires_in: Option<serde_json::Value>,
  pub scope: Option<String>,
  pub token_type: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("TokenResponse")
      .field("access_token", &self.access_token.as_ref().map(|_| "[redacted]"))
      .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
      .field("expires_in", &self.expires_in)
      .field("scope", &self.scope)
      .field("token_type", &self.token_type)
      .finish()
  }
}

impl TokenResponse {
  pub fn into_login(self, now: f64) -> Option<StoredLogin> {
    let access = self.access_token.filter(|s| !s.is_empty())?;
    let refresh = self.refresh_token.filter(|s| !s.is_empty())?;
    let expires_in = match self.expires_in? {
      serde_json::Value::Number(n) => n.as_f64()?,
      serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
      _ => return None,
    };
    if !(expires_in.is_finite() && expires_in > 0.0) {
      return None;
    }
    Some(StoredLogin {
      access_token: access,
      refresh_token: refresh,
      expires_at: now + expires_in,
      expires_in,
      scope: self.scope.unwrap_or_default(),
      token_type: self.token_type.unwrap_or_else(|| "Bearer".into()),
      relogin_reason: None,
      oauth_host: None,
    })
  }
}

pub fn now_secs() -> f64 {
  std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .map(|d| d.as_secs_f64())
    .unwrap_or(0.0)
}

/// A token is used for at least this share of its life before it counts as due, so a token
/// shorter than the floor is not refreshed on every call.
const MIN_USED_SHARE: f64 = 0.25;
/// Requests wait for a refresh only when the token in hand has less than this left
/// (or a quarter of its life, for short tokens); before that the refresh runs in the background.
const BLOCKING_MARGIN_SECS: f64 = 60.0;

/// Seconds before expiry at which a token is due: `max(floor, expires_in / 2)` (docs/kimi-wire.md §2;
/// 450 s for a 900 s token), but never more than three quarters of its life.
pub fn refresh_threshold(expires_in: f64, floor: f64) -> f64 {
  let ahead = floor.max(expires_in / 2.0);
  if expires_in > 0.0 {
    ahead.min(expires_in * (1.0 - MIN_USED_SHARE))
  } else {
    ahead
  }
}

/// Seconds of validity below which a due token is no longer handed out while it refreshes.
pub fn blocking_margin(login: &StoredLogin) -> f64 {
  if login.expires_in > 0.0 {
    BLOCKING_MARGIN_SECS.min(login.expires_in * MIN_USED_SHARE)
  } else {
    BLOCKING_MARGIN_SECS
  }
}

pub fn needs_refresh(login: &StoredLogin, now: f64, floor: f64) -> bool {
  login.expires_at - now < refresh_threshold(login.expires_in, floor)
}

/// Reads an official client's credential file (docs/kimi-wire.md §3), tolerant as both clients are:
/// missing fields become empty/0, numbers may be int or float.
pub fn parse_official(text: &str) -> Option<StoredLogin> {
  let v: serde_json::Value = serde_json::from_str(text).ok()?;
  let obj = v.as_object()?;
  let s = |k: &str| obj.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
  let n = |k: &str| obj.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
  Some(StoredLogin {
    access_token: s("access_token"),
    refresh_token: s("refresh_token"),
    expires_at: n("expires_at"),
    expires_in: n("expires_in"),
    scope: s("scope"),
    token_type: s("token_type"),
    relogin_reason: None,
    oauth_host: None,
  })
}

/// A short SHA-256 fingerprint of a token (16 hex): names one without revealing it, in files
/// that must hold no secret (the handed-out ledger, the "store refused writes" note).
pub fn fingerprint(token: &str) -> String {
  Sha256::digest(token.as_bytes())
    .iter()
    .take(8)
    .map(|b| format!("{b:02x}"))
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn threshold_is_450s_for_900s_token() {
    assert_eq!(refresh_threshold(900.0, 300.0), 450.0);
    assert_eq!(refresh_threshold(500.0, 300.0), 300.0);
    // Shorter than the floor: due after a quarter of its life, not at once.
    assert_eq!(refresh_threshold(120.0, 300.0), 90.0);
    assert_eq!(refresh_threshold(20.0, 300.0), 15.0);
    let fresh = StoredLogin {
      expires_at: 1000.0 + 20.0,
      expires_in: 20.0,
      ..Default::default()
    };
    assert!(!needs_refresh(&fresh, 1000.0, 300.0), "a fresh token is never due");
    assert_eq!(blocking_margin(&fresh), 5.0);
    assert_eq!(
      blocking_margin(&StoredLogin {
        expires_in: 900.0,
        ..Default::default()
      }),
      60.0
    );
    let l = StoredLogin {
      expires_at: 1000.0 + 451.0,
      expires_in: 900.0,
      ..Default::default()
    };
    assert!(!needs_refresh(&l, 1000.0, 300.0));
    assert!(needs_refresh(&l, 1002.0, 300.0));
  }

  #[test]
  fn token_response_validation() {
    let ok: TokenResponse =
      serde_json::from_str(r#"{"access_token":"a","refresh_token":"r","expires_in":900}"#).unwrap();
    let l = ok.into_login(10.0).unwrap();
    assert_eq!((l.expires_at, l.token_type.as_str()), (910.0, "Bearer"));
    for bad in [
      r#"{"access_token":"","refresh_token":"r","expires_in":900}"#,
      r#"{"access_token":"a","expires_in":900}"#,
      r#"{"access_token":"a","refresh_token":"r","expires_in":0}"#,
      r#"{"access_token":"a","refresh_token":"r","expires_in":"soon"}"#,
    ] {
      let r: TokenResponse = serde_json::from_str(bad).unwrap();
      assert!(r.into_login(0.0).is_none(), "{bad}");
    }
  }

  #[test]
  fn official_files_from_both_clients() {
    // golden/py-kshare-credentials/kimi-code.json and golden/ts-kchome-credentials/*.json
    let py = r#"{"access_token": "AT-1795234696", "refresh_token": "RT-1", "expires_at": 1795235596.98079, "scope": "kimi-code", "token_type": "Bearer", "expires_in": 900.0}"#;
    let ts = "{\n  \"access_token\": \"AT-1795234666\",\n  \"refresh_token\": \"RT-1\",\n  \"expires_at\": 1795235566,\n  \"scope\": \"kimi-code\",\n  \"token_type\": \"Bearer\",\n  \"expires_in\": 900\n}\n";
    assert_eq!(parse_official(py).unwrap().expires_at, 1795235596.98079);
    assert_eq!(parse_official(ts).unwrap().expires_at, 1795235566.0);
    assert!(parse_official("{\"access_token\":").is_none());
    assert_eq!(parse_official(r#"{"expires_at":"x"}"#).unwrap().expires_at, 0.0);
  }

  #[test]
  fn display_never_prints_tokens() {
    let l = StoredLogin {
      access_token: "secret-a".into(),
      refresh_token: "secret-r".into(),
      ..Default::default()
    };
    assert!(!format!("{l}").contains("secret"));
    assert!(!format!("{l:?}").contains("secret"));
    assert!(!format!("{l:#?}").contains("secret"));
    let r: TokenResponse =
      serde_json::from_str(r#"{"access_token":"secret-a","refresh_token":"secret-r","expires_in":900}"#).unwrap();
    assert!(!format!("{r:?}").contains("secret"));
  }
}
