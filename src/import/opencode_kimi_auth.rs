//! opencode-kimi-auth (romancircus): its own file `~/.opencode-kimi-auth/oauth.json`, the token
//! response plus `expires_at` (epoch **milliseconds**) and `device_id`. Handed over by moving the
//! file aside: the plugin then finds no login and stops refreshing.

use super::parse::{self, Entry};

pub const PLUGIN: &str = "opencode-kimi-auth";
pub const DIR: &str = ".opencode-kimi-auth";
pub const FILE: &str = "oauth.json";

pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
  let obj = parse::object(text)?;
  Ok(vec![parse::chain_entry(
    None,
    &obj,
    ("access_token", "refresh_token", "expires_at"),
    &[],
  )])
}

#[cfg(test)]
mod tests {
  use super::*;

  // What the plugin's storeToken writes: JSON.stringify({...tokenResponse, expires_at, device_id}, null, 2).
  const REAL: &str = r#"{
  "access_token": "at-1",
  "refresh_token": "rt-1",
  "token_type": "Bearer",
  "expires_in": 900,
  "scope": "kimi-code",
  "expires_at": 1795235596980,
  "device_id": "2cbe17d8-a4b1-42c1-9336-e565249cb8b4"
}"#;

  #[test]
  fn realistic_file() {
    let e = &parse(REAL).unwrap()[0];
    let c = e.chain.as_ref().unwrap();
    assert_eq!((c.access.as_str(), c.refresh.as_str()), ("at-1", "rt-1"));
    assert_eq!(c.expires_at, Some(1795235596.98));
    assert_eq!((e.problem.as_ref(), e.key.as_ref(), e.marker), (None, None, false));
  }

  #[test]
  fn truncated_file() {
    assert!(parse(&REAL[..60]).unwrap_err().contains("not valid JSON"));
  }

  #[test]
  fn wrong_types() {
    let e = &parse(r#"{"access_token":"a","refresh_token":12345,"expires_at":"soon"}"#).unwrap()[0];
    assert!(e.chain.is_none());
    let p = e.problem.as_ref().unwrap();
    assert!(p.contains("`refresh_token` is a number"), "{p}");
    assert!(p.contains("`expires_at`"), "{p}");
    // A bad expiry alone does not stop a takeover: only the refresh token matters.
    let e = &parse(r#"{"refresh_token":"r","expires_at":[1]}"#).unwrap()[0];
    assert!(e.chain.is_some() && e.problem.as_ref().unwrap().contains("array"));
    assert!(parse("[]").is_err());
    assert!(parse(r#"{"access_token":"a"}"#).unwrap()[0]
      .problem
      .as_ref()
      .unwrap()
      .contains("no refresh token"));
  }
}
