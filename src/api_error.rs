//! Maps Kimi API error responses to stable codes with actionable messages (docs/kimi-wire.md §7).

use crate::config::Settings;
use crate::constants as c;
use crate::error::{redact, Code, KimiError};

pub struct ErrorBody {
  pub kind: Option<String>,
  pub message: Option<String>,
}

pub fn parse_error_body(text: &str) -> ErrorBody {
  let v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
  let err = v.get("error");
  let field = |k: &str| err.and_then(|e| e.get(k)).and_then(|x| x.as_str()).map(String::from);
  let kind = field("type").or_else(|| field("code"));
  let message = field("message")
    .or_else(|| err.and_then(|e| e.as_str()).map(String::from))
    .or_else(|| v.get("message").and_then(|m| m.as_str()).map(String::from));
  ErrorBody {
    kind,
    message: message.map(|m| redact(&m)),
  }
}

fn is_quota(body: &ErrorBody) -> bool {
  if body.kind.as_deref() == Some(c::ERR_TYPE_QUOTA) {
    return true;
  }
  let m = body.message.as_deref().unwrap_or("").to_ascii_lowercase();
  [
    "exceeded your current token quota",
    "insufficient balance",
    "please recharge",
    "arrears",
    "usage limit for this billing cycle",
  ]
  .iter()
  .any(|needle| m.contains(needle))
}

/// Classifies a non-2xx API response. `None` for statuses that are not errors.
pub fn classify(status: u16, body_text: &str, retry_after: Option<f64>, settings: &Settings) -> Option<KimiError> {
  if status < 400 {
    return None;
  }
  let body = parse_error_body(body_text);
  let server_said = body.message.clone().unwrap_or_else(|| format!("HTTP {status}"));
  let e = match status {
    401 => KimiError::relogin(&format!("the API rejected the token: {server_said}")),
    402 => KimiError::new(
      Code::Membership,
      format!("Kimi could not verify your Kimi For Coding membership (HTTP 402: {server_said}). Check that your plan is active at kimi.com, then retry."),
    ),
    403 if body.kind.as_deref() == Some(c::ERR_TYPE_ACCESS_TERMINATED) && is_quota(&body) => KimiError::new(
      Code::QuotaExceeded,
      format!("Your Kimi For Coding quota for this billing cycle is used up (HTTP 403: {server_said}). Check `npx kimi-native usage`."),
    ),
    // Classified by wording: both are reported with `access_terminated_error` and with
    // `permission_error` (docs/kimi-wire.md §7, docs/identity.md).
    // The server's own words are left out on purpose: hosts retry errors whose text says
    // "terminated" (opencode 1.18 does), and this one must never be retried.
    403 if server_said.contains(c::MSG_ACCOUNT_TERMINATED) => KimiError::new(
      Code::AccountSuspended,
      format!(
        "Kimi has suspended this account's access to Kimi For Coding (HTTP 403, with a pointer to its Community \
         Guidelines). kimi-native will not retry or refresh. Contact Kimi support ({}) about your account; the \
         guidelines: {}.",
        c::KIMI_SUPPORT_EMAIL,
        c::COMMUNITY_GUIDELINES_URL
      ),
    ),
    403 if server_said.contains(c::MSG_CLIENT_GATE) => KimiError::new(
      Code::ClientNotAllowed,
      format!(
        "Kimi did not accept this client identity (HTTP 403: {server_said}). kimi-native sent User-Agent {:?} (profile {}). {}",
        crate::identity::identity(settings)
          .headers
          .iter()
          .find(|(k, _)| k == c::HEADER_USER_AGENT)
          .map(|(_, v)| v.as_str())
          .unwrap_or(""),
        settings.profile.as_str(),
        match settings.host {
          None if !settings.profile.is_official() => "Use Kimi through a coding agent it accepts (opencode, pi, openclaw with the kimi-native plugin), or ask Kimi (code@moonshot.ai) to accept kimi-native; update kimi-native and the host.",
          _ => "Update kimi-native and your coding agent; if it persists, ask Kimi (code@moonshot.ai) whether this agent is accepted. The official-client profiles (kimi-code, kimi-cli) risk your subscription: see https://github.com/kimi-native/kimi-native/blob/main/docs/identity.md.",
        }
      ),
    ),
    403 => KimiError::new(
      Code::AccessTerminated,
      format!("Kimi refused access (HTTP 403: {server_said}). If this persists, your account may be restricted: contact Kimi support."),
    ),
    429 if is_quota(&body) => KimiError::new(
      Code::QuotaExceeded,
      format!("Your Kimi For Coding quota is used up (HTTP 429: {server_said}). See `npx kimi-native usage` for reset times."),
    ),
    429 => KimiError::new(
      Code::RateLimited,
      format!(
        "Kimi is rate limiting requests (HTTP 429: {server_said}). {}",
        match retry_after {
          Some(s) => format!("Retry after {s} s."),
          None => "Retry in a few seconds.".into(),
        }
      ),
    )
    .with_retry_after(retry_after),
    s if s >= 500 => KimiError::new(Code::Server, format!("The Kimi API failed (HTTP {s}: {server_said}). Retry shortly.")),
    s => KimiError::new(Code::BadInput, format!("The Kimi API rejected the request (HTTP {s}: {server_said}).")),
  };
  Some(e.with_status(status))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::Options;

  fn settings() -> Settings {
    let env = |k: &str| (k == "KIMI_NATIVE_HOME").then(|| "/x".to_string());
    Settings::resolve_with(&Options::default(), &env).unwrap()
  }

  #[test]
  fn documented_bodies_map_to_codes() {
    let s = settings();
    let gate = r#"{"error":{"message":"Kimi For Coding is currently only available for Coding Agents such as Kimi CLI, Claude Code, Roo Code, Kilo Code, etc.","type":"access_terminated_error"}}"#;
    let e = classify(403, gate, None, &s).unwrap();
    assert_eq!(e.code, Code::ClientNotAllowed);
    assert!(
      e.message.contains("did not accept this client identity") && e.message.contains("kimi-native/"),
      "{}",
      e.message
    );
    // The suspension, with either reported type: classified by the wording.
    for kind in ["permission_error", "access_terminated_error"] {
      let banned = format!(
        r#"{{"error":{{"type":"{kind}","message":"Access terminated. Review our Community Guidelines(https://www.kimi.com/code/docs/kimi-code/community-guidelines.html) or contact support@moonshot.cn for assistance."}},"type":"error"}}"#
      );
      let e = classify(403, &banned, None, &s).unwrap();
      assert_eq!(e.code, Code::AccountSuspended, "{kind}");
      assert!(
        e.message.contains("support@moonshot.cn") && e.message.contains("not retry"),
        "{}",
        e.message
      );
    }
    assert_eq!(classify(403, "{}", None, &s).unwrap().code, Code::AccessTerminated);
    let quota = r#"{"error":{"message":"You exceeded your current token quota: please check your account balance","type":"exceeded_current_quota_error"}}"#;
    assert_eq!(classify(429, quota, None, &s).unwrap().code, Code::QuotaExceeded);
    let busy = r#"{"error":{"message":"Your account org-x request reached max organization concurrency: 4, please try again after 1 seconds","type":"engine_overloaded_error"}}"#;
    let e = classify(429, busy, Some(1.0), &s).unwrap();
    assert_eq!((e.code, e.retry_after), (Code::RateLimited, Some(1.0)));
    assert_eq!(classify(402, "", None, &s).unwrap().code, Code::Membership);
    assert_eq!(classify(401, "{}", None, &s).unwrap().code, Code::ReloginRequired);
    assert_eq!(classify(503, "<html>", None, &s).unwrap().code, Code::Server);
    assert!(classify(200, "", None, &s).is_none());
  }
}
