//! What the host asks for, and what of it may go out: the request and its options, the headers
//! kimi-native owns, and the one rule of where the user's credential may be sent.

use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};
use bytes::Bytes;

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

/// The body that goes out, after shaping.
pub(super) struct Shaped {
  /// `None`: the host sent no body.
  pub(super) body: Option<Bytes>,
  /// A shaped JSON body (chat or Anthropic): sent as JSON whatever type the host's fetch set.
  pub(super) json: bool,
  /// On the Anthropic route, the `anthropic-beta` value to send.
  pub(super) anthropic_beta: Option<String>,
}

impl Shaped {
  /// The host's body, byte for byte.
  pub(super) fn unchanged(body: Option<&Bytes>) -> Shaped {
    Shaped {
      body: body.cloned(),
      json: false,
      anthropic_beta: None,
    }
  }

  pub(super) fn json(body: Vec<u8>, anthropic_beta: Option<String>) -> Shaped {
    Shaped {
      body: Some(crate::pool::bytes(body)),
      json: true,
      anthropic_beta,
    }
  }
}

pub struct FetchRequest {
  pub url: String,
  pub method: String,
  pub headers: Vec<(String, String)>,
  pub body: Option<Bytes>,
  pub redirect: Redirect,
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
pub(super) fn passes(settings: &Settings, name: &str) -> bool {
  let host_only = || c::OFFICIAL_DROPPED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
  let dropped = settings.profile.is_official() && host_only();
  !is_owned(name) && !dropped
}

pub(super) fn hint(headers: &[(String, String)], name: &str) -> Option<String> {
  headers
    .iter()
    .find(|(k, _)| k.eq_ignore_ascii_case(name))
    .map(|(_, v)| v.trim().to_string())
    .filter(|v| !v.is_empty())
}

pub(super) fn origin_of(url: &reqwest::Url) -> String {
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

pub(super) fn check_target(settings: &Settings, req: &FetchRequest) -> Result<()> {
  check_credential_target(settings, &req.url)?;
  if reqwest::Method::from_bytes(req.method.as_bytes()).is_err() {
    return Err(KimiError::bad_input(format!(
      "kimi fetch: {:?} is not an HTTP method.",
      req.method
    )));
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::Code;

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
}
