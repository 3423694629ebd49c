//! The constants bridge: facts the JS layer reads instead of restating them.

use super::response::FetchOpts;
use crate::constants as c;
use crate::{config, fetch, import};
use napi_derive::napi;
use serde_json::{json, Value};

/// Facts adapters need (ids, hint header names, option keys, choices, limits), so they never
/// restate them.
#[napi]
pub fn constants() -> Value {
  json!({
    "provider": {"opencodeId": c::OPENCODE_PROVIDER_ID, "piId": c::PI_PROVIDER_ID, "openclawId": c::OPENCLAW_PROVIDER_ID, "defaultModel": c::DEFAULT_MODEL},
    "hintHeaders": {"effort": c::HINT_HEADER_EFFORT, "sessionId": c::HINT_HEADER_SESSION},
    "errorHeader": fetch::ERROR_CODE_HEADER,
    // What a host's auth store holds instead of a token (written by `import` too).
    "authMarkers": {"opencode": import::opencode::marker(), "pi": import::pi::marker()},
    "warningHeader": c::WARNING_HEADER,
    "configFiles": {"user": c::USER_CONFIG_FILE, "project": c::PROJECT_CONFIG_FILE},
    "uploadThresholdBytes": c::UPLOAD_THRESHOLD_BYTES,
    "defaults": {"oauthHost": c::OAUTH_HOST_CN, "baseUrl": c::BASE_URL_CN, "kimiCodeVersion": c::KIMI_CODE_VERSION, "kimiCliVersion": c::KIMI_CLI_VERSION, "profile": "native", "nativeVersion": c::NATIVE_VERSION, "tokenMinValidSecs": c::TOKEN_MIN_VALID_SECS},
    "profiles": config::Profile::ALL.map(|p| p.as_str()),
    "officialDroppedHeaders": c::OFFICIAL_DROPPED_HEADERS,
    "optionKeys": config::option_keys(),
    "fetchOptionKeys": keys_of(&FetchOpts::default()),
    "choices": {
      "profile": config::Profile::ALL.map(|p| p.as_str()),
      "region": config::Region::ALL.map(|r| r.as_str()),
      "store": config::StoreKind::ALL.map(|k| k.as_str()),
    },
    "limits": {"context": c::DEFAULT_CONTEXT_LENGTH, "output": c::DEFAULT_MAX_OUTPUT_TOKENS},
    "loginBudgetSecs": c::DEVICE_LOGIN_BUDGET_SECS,
    "errorCodes": crate::error::Code::ALL.iter().map(|c| (c.key().to_string(), Value::from(c.as_str()))).collect::<serde_json::Map<_, _>>(),
  })
}

/// The camelCase field names of an options struct, so JS never keeps its own list.
pub(super) fn keys_of<T: serde::Serialize>(v: &T) -> Vec<String> {
  match serde_json::to_value(v) {
    Ok(Value::Object(map)) => map.keys().cloned().collect(),
    _ => Vec::new(),
  }
}
