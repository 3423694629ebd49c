//! URL fetch: `POST {base}/fetch` with `{"url":…}` and `Accept: text/markdown`; the answer is
//! the page as markdown (golden ts-fetchurl, docs/kimi-wire.md §6.8).

use super::{post_json, Call};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};

const WHAT: &str = "Kimi URL fetch";

pub fn request_body(url: &str) -> Result<Vec<u8>> {
  let parsed = reqwest::Url::parse(url.trim())
    .ok()
    .filter(|u| matches!(u.scheme(), "http" | "https"))
    .ok_or_else(|| KimiError::bad_input("fetchUrl needs an absolute http(s) URL."))?;
  Ok(serde_json::to_vec(&serde_json::json!({ "url": parsed.as_str() })).unwrap_or_default())
}

pub async fn fetch_url(settings: &Settings, url: &str, call: &Call) -> Result<String> {
  let body = request_body(url)?;
  call
    .run(WHAT, async {
      let reply = post_json(settings, WHAT, c::FETCH_PATH, &body, Some("text/markdown")).await?;
      Ok(String::from_utf8_lossy(&reply.body).into_owned())
    })
    .await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn body_matches_kimi_code() {
    assert_eq!(
      request_body("https://example.com/page").unwrap(),
      br#"{"url":"https://example.com/page"}"#
    );
    assert!(request_body("file:///etc/passwd").is_err());
    assert!(request_body("not a url").is_err());
  }
}
