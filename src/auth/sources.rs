//! Where a token can come from besides kimi-native's own login: `KIMI_API_KEY`, and the
//! official clients' credential files, reused read-only while valid (rotating their refresh
//! chain would log the official client out).
//!
//! Each goes only where it was issued for (docs/security.md): every source first needs
//! `Settings::origin_refusal()` to be clear; then `KIMI_API_KEY` may go to any base that passes
//! it, kimi-code's login to the pair its file is named after, kimi-cli's to the one pair
//! kimi-cli uses in this environment.

use crate::config::{Role, Settings};
use crate::constants as c;
use crate::token::{now_secs, parse_official, StoredLogin};
use std::path::PathBuf;

/// Official-client tokens are used only while they stay valid for at least this long.
const OFFICIAL_MIN_VALIDITY: f64 = 30.0;

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
  Native,
  ApiKey,
  KimiCode,
  KimiCli,
}

impl TokenSource {
  pub fn as_str(self) -> &'static str {
    match self {
      TokenSource::Native => "kimi-native",
      TokenSource::ApiKey => "env:KIMI_API_KEY",
      TokenSource::KimiCode => "kimi-code",
      TokenSource::KimiCli => "kimi-cli",
    }
  }
}

/// A token ready to send, and where it came from.
#[derive(Clone)]
pub struct Grant {
  pub token: String,
  pub source: TokenSource,
  pub expires_at: Option<f64>,
}

impl std::fmt::Debug for Grant {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Grant")
      .field("token", &"[redacted]")
      .field("source", &self.source)
      .field("expires_at", &self.expires_at)
      .finish()
  }
}

impl Grant {
  pub fn native(login: &StoredLogin) -> Grant {
    Grant {
      token: login.access_token.clone(),
      source: TokenSource::Native,
      expires_at: Some(login.expires_at),
    }
  }
}

/// `KIMI_API_KEY`, when the API base may receive it: Kimi's API, or a base the user's
/// environment names.
pub fn api_key(settings: &Settings) -> Option<Grant> {
  if !settings.may_receive_credentials(&settings.base_url, Role::Api) {
    return None;
  }
  settings.api_key.as_ref().map(|k| Grant {
    token: k.expose().to_string(),
    source: TokenSource::ApiKey,
    expires_at: None,
  })
}

/// The official clients' credential files that exist and parse, in preference order.
pub fn official_logins(settings: &Settings) -> Vec<(TokenSource, StoredLogin)> {
  if !settings.official_credentials || settings.origin_refusal().is_some() {
    return vec![];
  }
  let mut candidates: Vec<(TokenSource, PathBuf)> = vec![];
  if let Some(h) = &settings.kimi_code_home {
    // kimi-code names the file after the host/base pair, as our slot does.
    candidates.push((
      TokenSource::KimiCode,
      h.join("credentials").join(format!("{}.json", settings.slot())),
    ));
  }
  // kimi-cli writes the same file whatever pair it logged in to: only its own pair may use it.
  if let Some(h) = settings.kimi_share_dir.as_ref().filter(|_| settings.is_kimi_cli_pair()) {
    candidates.push((TokenSource::KimiCli, h.join(c::OFFICIAL_CREDENTIALS_FILE)));
  }
  candidates
    .into_iter()
    .filter_map(|(src, path)| {
      std::fs::read_to_string(path)
        .ok()
        .and_then(|t| parse_official(&t))
        .map(|l| (src, l))
    })
    .collect()
}

/// Why kimi-cli's login, present on this machine, is not used for these settings (for the
/// "not logged in" message), if that is the case.
pub fn kimi_cli_elsewhere(settings: &Settings) -> Option<String> {
  let dir = settings.kimi_share_dir.as_ref()?;
  if !settings.official_credentials || settings.is_kimi_cli_pair() {
    return None;
  }
  let path = dir.join(c::OFFICIAL_CREDENTIALS_FILE);
  path.exists().then(|| {
    format!(
      "kimi-cli's login ({}) belongs to {} and {}, not to this OAuth host and base URL",
      path.display(),
      settings.kimi_cli_pair.0,
      settings.kimi_cli_pair.1
    )
  })
}

pub fn usable_official(settings: &Settings) -> Option<Grant> {
  let now = now_secs();
  official_logins(settings).into_iter().find_map(|(source, l)| {
    (!l.access_token.is_empty() && l.expires_at - now > OFFICIAL_MIN_VALIDITY).then_some(Grant {
      token: l.access_token,
      source,
      expires_at: Some(l.expires_at),
    })
  })
}
