//! What `identity()` reports: the profile and version with where each came from, the headers
//! sent, and for an official profile the device facts and the device-id file behind them.

use super::{identity, official_warning};
use crate::config::Settings;
use crate::constants as c;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueSource {
  pub value: String,
  pub source: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityReport {
  pub profile: ValueSource,
  pub version: ValueSource,
  pub user_agent: String,
  /// The host product token given by the host adapter (native profile).
  #[serde(skip_serializing_if = "Option::is_none")]
  pub host: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub platform: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub device_name: Option<ValueSource>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub device_model: Option<ValueSource>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub os_version: Option<ValueSource>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub device_id: Option<ValueSource>,
  pub headers: Vec<(String, String)>,
  /// The guideline warning of an official profile (always, not only once).
  #[serde(skip_serializing_if = "Option::is_none")]
  pub warning: Option<String>,
}

pub fn report(settings: &Settings) -> IdentityReport {
  let ident = identity(settings);
  let get = |name: &str| {
    ident
      .headers
      .iter()
      .find(|(k, _)| k == name)
      .map(|(_, v)| v.clone())
      .unwrap_or_default()
  };
  let official = settings.profile.is_official();
  let host_src = |what: &str| {
    official.then(|| ValueSource {
      value: get(what),
      source: "host".into(),
    })
  };
  IdentityReport {
    profile: ValueSource {
      value: settings.profile.as_str().into(),
      source: settings.profile_source.describe(),
    },
    version: ValueSource {
      value: settings.version.clone(),
      source: settings.version_source.describe(),
    },
    user_agent: get(c::HEADER_USER_AGENT),
    host: settings.host.clone(),
    platform: official.then(|| get(c::HEADER_PLATFORM)),
    device_name: host_src(c::HEADER_DEVICE_NAME),
    device_model: host_src(c::HEADER_DEVICE_MODEL),
    os_version: host_src(c::HEADER_OS_VERSION),
    device_id: official.then(|| ValueSource {
      value: get(c::HEADER_DEVICE_ID),
      source: format!("file:{}", ident.device_id_path.display()),
    }),
    headers: ident.headers.as_ref().clone(),
    warning: official_warning(settings),
  }
}
