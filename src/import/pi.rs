//! pi's `auth.json` (`$PI_CODING_AGENT_DIR/auth.json`, default `~/.pi/agent/auth.json`):
//! `{ "<provider>": {type:"oauth", access, refresh, expires(ms), ...extras} }`, written under a
//! proper-lockfile lock (`auth.json.lock/`). `kimi-coding` is pi's built-in provider in 1.x and
//! pi-provider-kimi-code's id; `kimi-coder` is pi-kimi-coder's. An entry under kimi-native's own
//! pi id becomes the marker; any other is removed (kimi-native's extension needs no entry).

use super::parse;
use crate::constants as c;

pub const AUTH: parse::HostAuth = parse::HostAuth {
  ids: &[
    ("kimi-coding", "pi's built-in Kimi provider or pi-provider-kimi-code"),
    ("kimi-coder", "pi-kimi-coder"),
  ],
  unknown_plugin: "a Kimi extension",
  marker: c::PI_AUTH_MARKER,
};

pub fn marker() -> serde_json::Value {
  serde_json::json!({
    "type": "oauth",
    "access": c::PI_AUTH_MARKER,
    "refresh": c::PI_AUTH_MARKER,
    "expires": c::AUTH_MARKER_EXPIRES_MS as u64,
    "managedBy": c::AUTH_MARKER_MANAGED_BY,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  const REAL: &str = r#"{
  "anthropic": {"type": "oauth", "access": "ant-a", "refresh": "ant-r", "expires": 1795237895930},
  "kimi-coding": {"type": "oauth", "access": "at-1", "refresh": "rt-1", "expires": 1795237895930, "modelId": "k3", "contextWindow": 262144},
  "kimi-coder": {"type": "oauth", "refresh": "rt-2", "access": "at-2", "expires": 1795237895930},
  "kimi-native": {"type": "oauth", "access": "kimi-native-managed", "refresh": "kimi-native-managed", "expires": 1795237895930, "managedBy": "kimi-native"},
  "moonshotai": {"type": "api_key", "key": "sk-x"}
}"#;

  #[test]
  fn realistic_file() {
    let list = AUTH.parse(REAL).unwrap();
    let keys: Vec<_> = list.iter().map(|e| e.key.clone().unwrap()).collect();
    assert_eq!(keys, ["kimi-coding", "kimi-coder"]);
    let c1 = list[0].chain.as_ref().unwrap();
    assert_eq!((c1.refresh.as_str(), c1.expires_at), ("rt-1", Some(1795237895.93)));
    assert_eq!(list[1].chain.as_ref().unwrap().access, "at-2");
  }

  #[test]
  fn built_in_api_key_is_not_a_login() {
    assert!(AUTH
      .parse(r#"{"kimi-coding": {"type": "api_key", "key": "sk-kimi-1"}}"#)
      .unwrap()
      .is_empty());
  }

  #[test]
  fn truncated_file() {
    assert!(AUTH
      .parse(&REAL[..REAL.len() - 3])
      .unwrap_err()
      .contains("not valid JSON"));
  }

  #[test]
  fn wrong_types() {
    let list = AUTH
      .parse(r#"{"kimi-coding": {"type":"oauth","access":"a","refresh":["r"],"expires":1}, "kimi-coder": 42}"#)
      .unwrap();
    assert!(list[0].chain.is_none() && list[0].problem.as_ref().unwrap().contains("`refresh` is a array"));
    assert!(list[1].problem.as_ref().unwrap().contains("number, not an object"));
  }

  #[test]
  fn marker_is_recognised() {
    let text = format!(r#"{{"kimi-coding": {}}}"#, marker());
    assert!(AUTH.parse(&text).unwrap()[0].marker);
  }
}
