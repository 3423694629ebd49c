//! Identity: headers, the profile's warning, the device id, where each setting came from.

use super::options::settings;
use super::{sync, to_json};
use crate::config::Settings;
use crate::constants as c;
use crate::identity;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

/// What status and login report about the identity in use: profile, User-Agent, host token
/// and, for an official profile, the guideline warning.
pub(super) fn identity_summary(s: &Settings) -> Value {
  let r = identity::report(s);
  json!({"profile": s.profile.as_str(), "userAgent": r.user_agent, "host": r.host, "warning": r.warning})
}

/// The official-profile warning the first time this process uses one, else null. The JS layer
/// shows it (stderr, `onWarning`); the once-per-process state lives here, in the core.
#[napi]
pub fn take_warning(env: Env, options: Option<Value>) -> napi::Result<Option<String>> {
  sync(&env, || Ok(identity::take_warning(&settings(&options)?)))
}

/// The identity headers of the active profile: the User-Agent alone for `native`, the 7
/// official headers in the official client's order for `kimi-code` / `kimi-cli`.
#[napi(ts_return_type = "Array<[string, string]>")]
pub fn build_headers(env: Env, options: Option<Value>) -> napi::Result<Vec<Vec<String>>> {
  sync(&env, || {
    let s = settings(&options)?;
    Ok(
      identity::identity(&s)
        .headers
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect(),
    )
  })
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
pub fn identity(env: Env, options: Option<Value>) -> napi::Result<Value> {
  sync(&env, || {
    let s = settings(&options)?;
    let mut report = to_json(&identity::report(&s));
    if let Some(obj) = report.as_object_mut() {
      obj.insert(
        "oauthHost".into(),
        json!({"value": s.oauth_host, "source": s.oauth_host_source.describe()}),
      );
      obj.insert(
        "baseUrl".into(),
        json!({"value": s.base_url, "source": s.base_url_source.describe()}),
      );
    }
    Ok(report)
  })
}
