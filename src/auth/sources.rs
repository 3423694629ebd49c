//! Where a token can come from besides kimi-native's own login: `KIMI_API_KEY`, and the
//! official clients' credential files, reused read-only while valid (rotating their refresh
//! chain would log the official client out).

use crate::config::Settings;
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

pub fn api_key(settings: &Settings) -> Option<Grant> {
  settings.api_key.as_ref().map(|k| Grant {
    token: k.expose().to_string(),
    source: TokenSource::ApiKey,
    expires_at: None,
  })
}

/// The official clients' credential files that exist and parse, in preference order.
pub fn official_logins(settings: &Settings) -> Vec<(TokenSource, StoredLogin)> {
  if !settings.official_credentials {
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
  if let Some(h) = &settings.kimi_share_dir {
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
