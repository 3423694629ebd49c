//! URL facts the settings and the origin rule both need: a URL's origin, the origins the user's
//! environment names, and the http(s) check of a configured URL.

use crate::constants::env;
use crate::error::{KimiError, Result};

/// `scheme://host[:port]` of a URL (lowercase host, default port left out); `null` when it has none.
pub fn origin_of(url: &str) -> String {
  reqwest::Url::parse(url)
    .map(|u| u.origin().ascii_serialization())
    .unwrap_or_else(|_| "null".into())
}

/// The origins named by `KIMI_NATIVE_TRUSTED_ORIGINS` (comma or space separated URLs).
pub(super) fn trusted_origins(list: Option<String>) -> Result<Vec<String>> {
  let Some(list) = list else {
    return Ok(vec![]);
  };
  list
    .split([',', ' '])
    .map(str::trim)
    .filter(|v| !v.is_empty())
    .map(|v| {
      let origin = origin_of(v);
      if origin == "null" || !(v.starts_with("https://") || v.starts_with("http://")) {
        Err(KimiError::bad_input(format!(
          "{} must list http(s) origins such as http://127.0.0.1:8080, got {v:?}.",
          env::TRUSTED_ORIGINS
        )))
      } else {
        Ok(origin)
      }
    })
    .collect()
}

pub(super) fn validate_url(kind: &str, url: &str) -> Result<()> {
  if url.starts_with("https://") || url.starts_with("http://") {
    Ok(())
  } else {
    Err(KimiError::bad_input(format!(
      "{kind} must be an http(s) URL, got {url:?}."
    )))
  }
}
