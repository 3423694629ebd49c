//! The official clients' credential files (docs/kimi-wire.md §3). Listed, never imported: taking over
//! their chain would log the official client out. kimi-native reuses them read-only instead.

use super::parse::{Chain, Entry};

pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
  super::parse::object(text)?;
  let login = crate::token::parse_official(text).ok_or("it is not a credentials object")?;
  let chain = (!login.refresh_token.is_empty()).then(|| Chain {
    access: login.access_token,
    refresh: login.refresh_token,
    expires_at: (login.expires_at > 0.0).then_some(login.expires_at),
  });
  Ok(vec![Entry {
    key: None,
    chain,
    problem: None,
    marker: false,
  }])
}

#[cfg(test)]
mod tests {
  #[test]
  fn both_clients_formats() {
    // golden/py-kshare-credentials/kimi-code.json
    let py = r#"{"access_token": "AT-1", "refresh_token": "RT-1", "expires_at": 1795235596.98079, "scope": "kimi-code", "token_type": "Bearer", "expires_in": 900.0}"#;
    let e = &super::parse(py).unwrap()[0];
    assert_eq!(e.chain.as_ref().unwrap().expires_at, Some(1795235596.98079));
    assert!(super::parse("{\"access_token\"").is_err());
    // kimi-code's tombstone after a refused refresh: no chain.
    assert!(
      super::parse(r#"{"access_token":"","refresh_token":"","expires_at":0}"#).unwrap()[0]
        .chain
        .is_none()
    );
  }
}
