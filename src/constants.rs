//! Every fact about the Kimi service and the official clients lives here, once.
//! Sources are cited as in the project's wire reference (kimi-wire.md).

/// Public OAuth client of both official clients (no secret). kimi-wire §1.1.
pub const CLIENT_ID: &str = "17e5f671-d194-4dfb-9706-5516cb48c098";

/// OAuth hosts per region (kimi-code `KIMI_REGION_PROFILES`). kimi-wire §1.1.
pub const OAUTH_HOST_CN: &str = "https://auth.kimi.com";
pub const OAUTH_HOST_GLOBAL: &str = "https://auth.kimi.ai";
/// API bases per region. kimi-wire §6.0.
pub const BASE_URL_CN: &str = "https://api.kimi.com/coding/v1";
pub const BASE_URL_GLOBAL: &str = "https://api.kimi.ai/coding/v1";

pub const DEVICE_AUTHORIZATION_PATH: &str = "/api/oauth/device_authorization";
pub const TOKEN_PATH: &str = "/api/oauth/token";
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Device-code defaults. kimi-wire §1.3/§1.4: default interval 5 s, clamp ≥ 1 s, +5 s on
/// slow_down, a local 15-minute budget across expired_token restarts.
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 5;
pub const SLOW_DOWN_STEP_SECS: u64 = 5;
pub const DEVICE_LOGIN_BUDGET_SECS: u64 = 15 * 60;
/// Per-request OAuth timeout of kimi-code (`DEFAULT_HTTP_TIMEOUT_MS`).
pub const OAUTH_HTTP_TIMEOUT_SECS: u64 = 30;

/// Refresh ahead when `expires_at − now < max(REFRESH_FLOOR_SECS, expires_in / 2)`. kimi-wire §2.
pub const REFRESH_FLOOR_SECS: f64 = 300.0;
/// Transient refresh failures: 3 attempts, sleeping 1 s then 2 s. kimi-wire §2.
pub const REFRESH_ATTEMPTS: u32 = 3;
pub const REFRESH_RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// Identity header names in the order kimi-code sends them (kimi-wire §5.3).
pub const HEADER_USER_AGENT: &str = "User-Agent";
pub const HEADER_PLATFORM: &str = "X-Msh-Platform";
pub const HEADER_VERSION: &str = "X-Msh-Version";
pub const HEADER_DEVICE_NAME: &str = "X-Msh-Device-Name";
pub const HEADER_DEVICE_MODEL: &str = "X-Msh-Device-Model";
pub const HEADER_OS_VERSION: &str = "X-Msh-Os-Version";
pub const HEADER_DEVICE_ID: &str = "X-Msh-Device-Id";

/// kimi-code 2.1.0 identity (kimi-wire §5.1).
pub const KIMI_CODE_PRODUCT: &str = "kimi-code-cli";
pub const KIMI_CODE_PLATFORM: &str = "kimi_code_cli";
pub const KIMI_CODE_VERSION: &str = "2.1.0";
pub const KIMI_CODE_HOME_DIR: &str = ".kimi-code";
/// kimi-cli 1.52.0 identity (kimi-wire §5.1).
pub const KIMI_CLI_PRODUCT: &str = "KimiCLI";
pub const KIMI_CLI_PLATFORM: &str = "kimi_cli";
pub const KIMI_CLI_VERSION: &str = "1.52.0";
pub const KIMI_CLI_HOME_DIR: &str = ".kimi";
/// kimi-cli sends OAuth with aiohttp's default User-Agent, not its own (kimi-wire §1.2).
pub const KIMI_CLI_OAUTH_USER_AGENT: &str = "Python/3.13 aiohttp/3.13.3";
pub const DEVICE_ID_FILE: &str = "device_id";
/// Official credential file for the default host/base pair (kimi-wire §3).
pub const OFFICIAL_CREDENTIALS_FILE: &str = "credentials/kimi-code.json";

/// Chat request shaping facts (kimi-wire §6.1).
pub const THINKING_KEEP: &str = "all";
pub const KIMI_CODE_CACHE_KEY_PREFIX: &str = "session_";
pub const DEFAULT_MODEL: &str = "kimi-for-coding";

/// Error types in response bodies (kimi-wire §7).
pub const ERR_TYPE_ACCESS_TERMINATED: &str = "access_terminated_error";
pub const ERR_TYPE_QUOTA: &str = "exceeded_current_quota_error";
pub const ERR_TYPE_INVALID_AUTH: &str = "invalid_authentication_error";

/// Host integration ids (ours, chosen not to collide with models.dev / pi built-ins).
pub const OPENCODE_PROVIDER_ID: &str = "kimi-for-coding-oauth";
pub const PI_PROVIDER_ID: &str = "kimi-native";
pub const OPENCLAW_PROVIDER_ID: &str = "kimi-native";
/// Request headers a host may set to pass per-request shaping hints; stripped before sending.
pub const HINT_HEADER_EFFORT: &str = "x-kimi-native-effort";
pub const HINT_HEADER_SESSION: &str = "x-kimi-native-session";

/// kimi-native's own storage.
pub const NATIVE_HOME_DIR: &str = ".kimi-native";
pub const KEYCHAIN_SERVICE: &str = "kimi-native";
pub const CREDENTIALS_FILE: &str = "credentials.json";
pub const MODELS_CACHE_FILE: &str = "models.json";
pub const LOCK_FILE: &str = "refresh.lock";
/// Keychain calls never block a host longer than this (gh uses 30 s; a headless Secret
/// Service answers in milliseconds, a hung bus never does and `auto` then falls back to the file).
pub const KEYCHAIN_TIMEOUT_MS: u64 = 5_000;
/// Windows Credential Manager blobs are limited to 2560 bytes (UTF-16: 1280 chars).
pub const KEYCHAIN_CHUNK_CHARS: usize = 1000;

/// Environment variables.
pub mod env {
  pub const OAUTH_HOST: &str = "KIMI_CODE_OAUTH_HOST";
  pub const OAUTH_HOST_LEGACY: &str = "KIMI_OAUTH_HOST";
  pub const BASE_URL: &str = "KIMI_CODE_BASE_URL";
  pub const API_KEY: &str = "KIMI_API_KEY";
  pub const KIMI_CODE_HOME: &str = "KIMI_CODE_HOME";
  pub const KIMI_SHARE_DIR: &str = "KIMI_SHARE_DIR";
  pub const CUSTOM_HEADERS: &str = "KIMI_CODE_CUSTOM_HEADERS";
  pub const PROFILE: &str = "KIMI_NATIVE_PROFILE";
  pub const CLIENT_VERSION: &str = "KIMI_NATIVE_CLIENT_VERSION";
  pub const REGION: &str = "KIMI_NATIVE_REGION";
  pub const STORE: &str = "KIMI_NATIVE_STORE";
  pub const HOME: &str = "KIMI_NATIVE_HOME";
  pub const KEYCHAIN_TIMEOUT_MS: &str = "KIMI_NATIVE_KEYCHAIN_TIMEOUT_MS";
  /// Test/advanced knob: the floor of the refresh-ahead window (default 300 s).
  pub const REFRESH_FLOOR_SECS: &str = "KIMI_NATIVE_REFRESH_FLOOR_SECS";
  /// Test/advanced knob: the device-login budget (default 900 s).
  pub const LOGIN_BUDGET_SECS: &str = "KIMI_NATIVE_LOGIN_BUDGET_SECS";
  pub const DISABLE_OFFICIAL: &str = "KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS";
  pub const THINKING_KEEP: &str = "KIMI_MODEL_THINKING_KEEP";
}
