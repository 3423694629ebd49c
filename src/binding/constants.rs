//! The constants bridge: facts the JS layer reads instead of restating them.

use super::response::FetchOpts;
use crate::constants as c;
use crate::{config, fetch, import};
use napi_derive::napi;
use serde_json::Value;

#[napi(object)]
pub struct ProviderIds {
  pub opencode_id: String,
  pub pi_id: String,
  pub openclaw_id: String,
  pub default_model: String,
}

/// Request headers a host may set to pass per-request shaping hints (stripped before sending).
#[napi(object)]
pub struct HintHeaders {
  pub effort: String,
  pub session_id: String,
}

/// What a host's auth store holds instead of a token (written by `import` too).
#[napi(object)]
pub struct AuthMarkers {
  #[napi(ts_type = "Record<string, unknown>")]
  pub opencode: Value,
  #[napi(ts_type = "Record<string, unknown>")]
  pub pi: Value,
}

/// File names of the per-user and per-project host-feature settings.
#[napi(object)]
pub struct ConfigFiles {
  pub user: String,
  pub project: String,
}

/// What the core uses with no options and no environment.
#[napi(object)]
pub struct Defaults {
  pub oauth_host: String,
  pub base_url: String,
  pub kimi_code_version: String,
  pub kimi_cli_version: String,
  pub profile: String,
  pub native_version: String,
  pub token_min_valid_secs: f64,
}

/// Valid values of the options with a fixed set.
#[napi(object)]
pub struct Choices {
  pub profile: Vec<String>,
  pub region: Vec<String>,
  pub store: Vec<String>,
}

/// Context window and output cap hosts configure for the default model.
#[napi(object)]
pub struct Limits {
  pub context: f64,
  pub output: f64,
}

#[napi(object)]
pub struct Constants {
  pub provider: ProviderIds,
  pub hint_headers: HintHeaders,
  /// Response header carrying the kimi-native error code of a non-2xx response.
  pub error_header: String,
  pub auth_markers: AuthMarkers,
  /// Response header (may repeat) carrying a warning from the request path.
  pub warning_header: String,
  pub config_files: ConfigFiles,
  pub upload_threshold_bytes: f64,
  pub defaults: Defaults,
  /// `native` (the default), then the opt-in official-client profiles.
  pub profiles: Vec<String>,
  pub official_dropped_headers: Vec<String>,
  /// The camelCase keys of the core options.
  pub option_keys: Vec<String>,
  /// The keys `createKimiFetch` reads besides the core options.
  pub fetch_option_keys: Vec<String>,
  pub choices: Choices,
  pub limits: Limits,
  /// The device login's overall time budget in seconds (across expired codes).
  pub login_budget_secs: f64,
  /// Every stable error code, keyed without the `KIMI_` prefix.
  #[napi(ts_type = "Record<string, string>")]
  pub error_codes: Value,
}

fn strings<const N: usize>(items: [&str; N]) -> Vec<String> {
  items.map(String::from).to_vec()
}

/// Facts adapters need (ids, hint header names, option keys, choices, limits), so they never
/// restate them.
#[napi]
pub fn constants() -> Constants {
  let profiles = strings(config::Profile::ALL.map(|p| p.as_str()));
  Constants {
    provider: ProviderIds {
      opencode_id: c::OPENCODE_PROVIDER_ID.into(),
      pi_id: c::PI_PROVIDER_ID.into(),
      openclaw_id: c::OPENCLAW_PROVIDER_ID.into(),
      default_model: c::DEFAULT_MODEL.into(),
    },
    hint_headers: HintHeaders {
      effort: c::HINT_HEADER_EFFORT.into(),
      session_id: c::HINT_HEADER_SESSION.into(),
    },
    error_header: fetch::ERROR_CODE_HEADER.into(),
    auth_markers: AuthMarkers {
      opencode: import::opencode::marker(),
      pi: import::pi::marker(),
    },
    warning_header: c::WARNING_HEADER.into(),
    config_files: ConfigFiles {
      user: c::USER_CONFIG_FILE.into(),
      project: c::PROJECT_CONFIG_FILE.into(),
    },
    upload_threshold_bytes: c::UPLOAD_THRESHOLD_BYTES as f64,
    defaults: Defaults {
      oauth_host: c::OAUTH_HOST_CN.into(),
      base_url: c::BASE_URL_CN.into(),
      kimi_code_version: c::KIMI_CODE_VERSION.into(),
      kimi_cli_version: c::KIMI_CLI_VERSION.into(),
      profile: config::Profile::Native.as_str().into(),
      native_version: c::NATIVE_VERSION.into(),
      token_min_valid_secs: c::TOKEN_MIN_VALID_SECS,
    },
    profiles: profiles.clone(),
    official_dropped_headers: strings(c::OFFICIAL_DROPPED_HEADERS),
    option_keys: config::option_keys(),
    fetch_option_keys: keys_of(&FetchOpts::default()),
    choices: Choices {
      profile: profiles,
      region: strings(config::Region::ALL.map(|r| r.as_str())),
      store: strings(config::StoreKind::ALL.map(|k| k.as_str())),
    },
    limits: Limits {
      context: c::DEFAULT_CONTEXT_LENGTH as f64,
      output: c::DEFAULT_MAX_OUTPUT_TOKENS as f64,
    },
    login_budget_secs: c::DEVICE_LOGIN_BUDGET_SECS as f64,
    error_codes: crate::error::Code::ALL
      .iter()
      .map(|c| (c.key().to_string(), Value::from(c.as_str())))
      .collect::<serde_json::Map<_, _>>()
      .into(),
  }
}

/// The camelCase field names of an options struct, so JS never keeps its own list.
pub(super) fn keys_of<T: serde::Serialize>(v: &T) -> Vec<String> {
  match serde_json::to_value(v) {
    Ok(Value::Object(map)) => map.keys().cloned().collect(),
    _ => Vec::new(),
  }
}
