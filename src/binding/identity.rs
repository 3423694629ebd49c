//! Identity: headers, the profile's warning, the device id, where each setting came from.

use super::options::settings;
use super::sync;
use crate::config::Settings;
use crate::constants as c;
use crate::identity;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// What status and login report about the identity in use: profile, User-Agent, host token
/// and, for an official profile, the guideline warning.
#[napi(object, use_nullable = true)]
pub struct IdentitySummary {
  pub profile: String,
  /// The User-Agent sent (for opencode, opencode's own UA on the request comes first instead of `host`).
  pub user_agent: String,
  pub host: Option<String>,
  pub warning: Option<String>,
}

pub(super) fn identity_summary(s: &Settings) -> IdentitySummary {
  let r = identity::report(s);
  IdentitySummary {
    profile: s.profile.as_str().into(),
    user_agent: r.user_agent,
    host: r.host,
    warning: r.warning,
  }
}

/// A setting's value and where it came from (`option`, `env:<NAME>`, `default`, ...).
#[napi(object)]
pub struct ValueSource {
  pub value: String,
  pub source: String,
}

impl From<identity::ValueSource> for ValueSource {
  fn from(v: identity::ValueSource) -> Self {
    ValueSource {
      value: v.value,
      source: v.source,
    }
  }
}

/// Everything that makes up the identity requests carry, and where each part came from.
#[napi(object)]
pub struct IdentityReport {
  pub profile: ValueSource,
  pub version: ValueSource,
  pub user_agent: String,
  pub host: Option<String>,
  pub platform: Option<String>,
  pub device_name: Option<ValueSource>,
  pub device_model: Option<ValueSource>,
  pub os_version: Option<ValueSource>,
  pub device_id: Option<ValueSource>,
  pub headers: Vec<(String, String)>,
  pub warning: Option<String>,
  pub oauth_host: ValueSource,
  pub base_url: ValueSource,
}

/// The official-profile warning the first time this process uses one, else null. The JS layer
/// shows it (stderr, `onWarning`); the once-per-process state lives here, in the core.
#[napi]
pub fn take_warning(env: Env, options: Option<Value>) -> napi::Result<Option<String>> {
  sync(&env, || Ok(identity::take_warning(&settings(&options)?)))
}

/// The identity headers of the active profile: the User-Agent alone for `native`, the 7
/// official headers in the official client's order for `kimi-code` / `kimi-cli`.
#[napi]
pub fn build_headers(env: Env, options: Option<Value>) -> napi::Result<Vec<(String, String)>> {
  sync(&env, || Ok(identity::identity(&settings(&options)?).headers.to_vec()))
}

/// kimi-native's own directory for these options (where the per-user config file lives).
#[napi]
pub fn home_dir(env: Env, options: Option<Value>) -> napi::Result<String> {
  sync(&env, || Ok(settings(&options)?.home.to_string_lossy().into_owned()))
}

/// Throws (a coded error naming both origins) unless `url` may receive the credential of the
/// login these options select; for adapters that hand a bearer to a host's own HTTP code.
#[napi]
pub fn check_credential_target(env: Env, url: String, options: Option<Value>) -> napi::Result<()> {
  sync(&env, || {
    crate::fetch::check_credential_target(&settings(&options)?, &url).map(|_| ())
  })
}

#[napi]
pub fn get_device_id(env: Env, options: Option<Value>) -> napi::Result<String> {
  sync(&env, || {
    let s = settings(&options)?;
    let headers = identity::identity(&s).headers;
    Ok(
      headers
        .iter()
        .find(|(k, _)| k == c::HEADER_DEVICE_ID)
        .map(|(_, v)| v.clone())
        .unwrap_or_default(),
    )
  })
}

#[napi]
pub fn identity(env: Env, options: Option<Value>) -> napi::Result<IdentityReport> {
  sync(&env, || {
    let s = settings(&options)?;
    let r = identity::report(&s);
    Ok(IdentityReport {
      profile: r.profile.into(),
      version: r.version.into(),
      user_agent: r.user_agent,
      host: r.host,
      platform: r.platform,
      device_name: r.device_name.map(Into::into),
      device_model: r.device_model.map(Into::into),
      os_version: r.os_version.map(Into::into),
      device_id: r.device_id.map(Into::into),
      headers: r.headers,
      warning: r.warning,
      oauth_host: ValueSource {
        value: s.oauth_host.clone(),
        source: s.oauth_host_source.describe(),
      },
      base_url: ValueSource {
        value: s.base_url.clone(),
        source: s.base_url_source.describe(),
      },
    })
  })
}
