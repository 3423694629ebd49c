//! opencode's shared `auth.json` (`$XDG_DATA_HOME/opencode/auth.json`): `{ "<provider id>":
//! {type:"oauth", refresh, access, expires(ms), ...} }`. Kimi plugins use several provider ids.
//! kimi-native's opencode adapter uses `kimi-for-coding-oauth` too (the id opencode-kimi-full
//! chose), so that entry becomes kimi-native's marker; any other id is removed.

use super::parse;
use crate::constants as c;

/// Provider ids Kimi OAuth plugins store under, and who writes them.
pub const AUTH: parse::HostAuth = parse::HostAuth {
  ids: &[
    (c::OPENCODE_PROVIDER_ID, "opencode-kimi-full (or a fork)"),
    ("kimi-for-coding", "@openprojectx/opencode-kimi-auth"),
    ("kimi", "opencode-kimi-auth"),
    ("kimi-coding-oauth", "opencode-kimi-oauth"),
  ],
  unknown_plugin: "a Kimi plugin",
  marker: c::OPENCODE_AUTH_MARKER,
};

/// The entry kimi-native's adapter reads as "handled by kimi-native".
pub fn marker() -> serde_json::Value {
  serde_json::json!({
    "type": "oauth",
    "refresh": c::OPENCODE_AUTH_MARKER,
    "access": c::OPENCODE_AUTH_MARKER,
    "expires": c::AUTH_MARKER_EXPIRES_MS as u64,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  const REAL: &str = r#"{
  "anthropic": {"type": "oauth", "refresh": "ant-r", "access": "ant-a", "expires": 1795235596980},
  "openai": {"type": "api", "key": "sk-x"},
  "kimi-for-coding-oauth": {"type": "oauth", "refresh": "rt-1", "access": "at-1", "expires": 1795235596980, "model_id": "k2p6"},
  "kimi": {"type": "oauth", "refresh": "rt-2", "access": "at-2", "expires": 1795235596},
  "kimi-for-coding": {"type": "api", "key": "sk-kimi-x"}
}"#;

  #[test]
  fn realistic_file() {
    let list = AUTH.parse(REAL).unwrap();
    let keys: Vec<_> = list.iter().map(|e| e.key.clone().unwrap()).collect();
    assert_eq!(
      keys,
      ["kimi-for-coding-oauth", "kimi"],
      "API-key and foreign entries are not logins to take over"
    );
    let full = list[0].chain.as_ref().unwrap();
    assert_eq!((full.refresh.as_str(), full.expires_at), ("rt-1", Some(1795235596.98)));
    // opencode-kimi-auth stores `expires` in seconds.
    assert_eq!(list[1].chain.as_ref().unwrap().expires_at, Some(1795235596.0));
    assert!(list.iter().all(|e| e.problem.is_none() && !e.marker));
  }

  #[test]
  fn marker_is_not_a_login() {
    let text = format!(r#"{{"kimi-for-coding-oauth": {}}}"#, marker());
    let e = &AUTH.parse(&text).unwrap()[0];
    assert!(e.marker && e.chain.is_none());
  }

  #[test]
  fn truncated_file() {
    assert!(AUTH
      .parse(&REAL[..REAL.len() / 2])
      .unwrap_err()
      .contains("not valid JSON"));
  }

  #[test]
  fn wrong_types() {
    let list = AUTH
      .parse(
        r#"{"kimi-for-coding-oauth": {"type":"oauth","refresh":{"x":1},"access":7,"expires":"later"},
          "kimi": "rt-in-a-string", "kimi-for-coding": {"type": 5}, "kimi-coding-oauth": {"refresh":"r"}}"#,
      )
      .unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|e| e.chain.is_none() && e.problem.is_some()));
    assert!(list[0].problem.as_ref().unwrap().contains("`refresh` is a object"));
    assert!(list[1].problem.as_ref().unwrap().contains("string, not an object"));
    assert!(AUTH.parse("\"x\"").unwrap_err().contains("string"));
  }
}
