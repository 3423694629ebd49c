//! Every fact about the Kimi service and the official clients lives here, once.
//! Sources are cited by section of the vendored wire reference, docs/kimi-wire.md.

/// Public OAuth client of both official clients (no secret). docs/kimi-wire.md §1.1.
pub const CLIENT_ID: &str = "17e5f671-d194-4dfb-9706-5516cb48c098";

/// OAuth hosts per region (kimi-code `KIMI_REGION_PROFILES`). docs/kimi-wire.md §1.1.
pub const OAUTH_HOST_CN: &str = "https://auth.kimi.com";
pub const OAUTH_HOST_GLOBAL: &str = "https://auth.kimi.ai";
/// API bases per region. docs/kimi-wire.md §6.0.
pub const BASE_URL_CN: &str = "https://api.kimi.com/coding/v1";
pub const BASE_URL_GLOBAL: &str = "https://api.kimi.ai/coding/v1";

pub const DEVICE_AUTHORIZATION_PATH: &str = "/api/oauth/device_authorization";
pub const TOKEN_PATH: &str = "/api/oauth/token";
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Device-code defaults. docs/kimi-wire.md §1.3/§1.4: default interval 5 s, clamp ≥ 1 s, +5 s on
/// slow_down, a local 15-minute budget across expired_token restarts.
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 5;
pub const SLOW_DOWN_STEP_SECS: u64 = 5;
pub const DEVICE_LOGIN_BUDGET_SECS: u64 = 15 * 60;
/// Per-request OAuth timeout of kimi-code (`DEFAULT_HTTP_TIMEOUT_MS`).
pub const OAUTH_HTTP_TIMEOUT_SECS: u64 = 30;

/// Refresh ahead when `expires_at − now < max(REFRESH_FLOOR_SECS, expires_in / 2)`. docs/kimi-wire.md §2.
pub const REFRESH_FLOOR_SECS: f64 = 300.0;
/// Transient refresh failures: 3 attempts, sleeping 1 s then 2 s. docs/kimi-wire.md §2.
pub const REFRESH_ATTEMPTS: u32 = 3;
pub const REFRESH_RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// Identity header names in the order kimi-code sends them (docs/kimi-wire.md §5.3).
pub const HEADER_USER_AGENT: &str = "User-Agent";
pub const HEADER_PLATFORM: &str = "X-Msh-Platform";
pub const HEADER_VERSION: &str = "X-Msh-Version";
pub const HEADER_DEVICE_NAME: &str = "X-Msh-Device-Name";
pub const HEADER_DEVICE_MODEL: &str = "X-Msh-Device-Model";
pub const HEADER_OS_VERSION: &str = "X-Msh-Os-Version";
pub const HEADER_DEVICE_ID: &str = "X-Msh-Device-Id";

/// kimi-native's own product token and version (the honest `native` profile, docs/identity.md).
pub const NATIVE_PRODUCT: &str = "kimi-native";
pub const NATIVE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Headers opencode adds for its own gateways that no official client sends: dropped in the
/// official profiles so their requests stay byte-exact; passed through in `native`.
pub const OFFICIAL_DROPPED_HEADERS: [&str; 3] = ["x-parent-session-id", "x-session-affinity", "x-session-id"];

/// kimi-code 2.1.0 identity (docs/kimi-wire.md §5.1).
pub const KIMI_CODE_PRODUCT: &str = "kimi-code-cli";
pub const KIMI_CODE_PLATFORM: &str = "kimi_code_cli";
pub const KIMI_CODE_VERSION: &str = "2.1.0";
pub const KIMI_CODE_HOME_DIR: &str = ".kimi-code";
/// kimi-cli 1.52.0 identity (docs/kimi-wire.md §5.1).
pub const KIMI_CLI_PRODUCT: &str = "KimiCLI";
pub const KIMI_CLI_PLATFORM: &str = "kimi_cli";
pub const KIMI_CLI_VERSION: &str = "1.52.0";
pub const KIMI_CLI_HOME_DIR: &str = ".kimi";
/// kimi-cli sends OAuth with aiohttp's default User-Agent, not its own (docs/kimi-wire.md §1.2).
pub const KIMI_CLI_OAUTH_USER_AGENT: &str = "Python/3.13 aiohttp/3.13.3";
pub const DEVICE_ID_FILE: &str = "device_id";
/// Official credential file for the default host/base pair (docs/kimi-wire.md §3).
pub const OFFICIAL_CREDENTIALS_FILE: &str = "credentials/kimi-code.json";

/// Chat request shaping facts (docs/kimi-wire.md §6.1).
pub const THINKING_KEEP: &str = "all";
pub const KIMI_CODE_CACHE_KEY_PREFIX: &str = "session_";
pub const DEFAULT_MODEL: &str = "kimi-for-coding";
/// What the plan serves today (/models: context_length 262144). Host configs use these fixed
/// limits rather than a host catalogue that disagrees (opencode's says 1M).
pub const DEFAULT_CONTEXT_LENGTH: u64 = 262_144;
/// Output cap hosts configure for the default model.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 32_768;

/// Error types in response bodies (docs/kimi-wire.md §7).
pub const ERR_TYPE_ACCESS_TERMINATED: &str = "access_terminated_error";
pub const ERR_TYPE_QUOTA: &str = "exceeded_current_quota_error";
pub const ERR_TYPE_INVALID_AUTH: &str = "invalid_authentication_error";
/// Wording of the two 403s (docs/kimi-wire.md §7, docs/identity.md): classified by text, since both are
/// reported with more than one `type`.
pub const MSG_CLIENT_GATE: &str = "only available for Coding Agents";
pub const MSG_ACCOUNT_TERMINATED: &str = "Review our Community Guidelines";
pub const KIMI_SUPPORT_EMAIL: &str = "support@moonshot.cn";
pub const COMMUNITY_GUIDELINES_URL: &str = "https://www.kimi.com/code/docs/kimi-code/community-guidelines.html";

/// Host integration ids (ours, chosen not to collide with models.dev / pi built-ins).
pub const OPENCODE_PROVIDER_ID: &str = "kimi-for-coding-oauth";
pub const PI_PROVIDER_ID: &str = "kimi-native";
pub const OPENCLAW_PROVIDER_ID: &str = "kimi-native";
/// What a host's auth store holds for kimi-native instead of a token (never a secret). Both the
/// adapters and `import` (which writes it when taking over another plugin's entry) use these.
/// opencode: `{type:"oauth", access, refresh, expires}`; `expires` far ahead so nothing treats
/// it as due for a refresh (2100-01-01 in ms).
pub const OPENCODE_AUTH_MARKER: &str = "kimi-native";
/// pi: `{type:"oauth", access, refresh, expires, managedBy}` (and the `apiKey` pi passes around).
pub const PI_AUTH_MARKER: &str = "kimi-native-managed";
pub const AUTH_MARKER_MANAGED_BY: &str = "kimi-native";
pub const AUTH_MARKER_EXPIRES_MS: f64 = 4_102_444_800_000.0;
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

/// `kimi-native token` (a key command for other programs, issue #22). The default minimum
/// remaining validity covers Claude Code's helper TTL (5 min, below) with 2 minutes to spare,
/// and stays under the refresh-ahead point of Kimi's 900 s tokens (450 s), so handing tokens
/// out does not refresh more often than the hosts already do.
pub const TOKEN_MIN_VALID_SECS: f64 = 420.0;
/// What `token` remembers of each caller (a token fingerprint and the time, never the token):
/// `<home>/handed-out/<slot>.json`; entries older than this are dropped, at most this many kept.
pub const HANDED_OUT_DIR: &str = "handed-out";
pub const HANDED_OUT_KEEP_SECS: f64 = 3600.0;
pub const HANDED_OUT_MAX_ENTRIES: usize = 256;

/// Claude Code (2.1.332, docs/claude-code.md): it runs `apiKeyHelper` through `/bin/sh`, caches the
/// output for `CLAUDE_CODE_API_KEY_HELPER_TTL_MS` (5 min when unset) and runs it again at once
/// after a 401. It appends `/v1/messages` to `ANTHROPIC_BASE_URL` itself.
pub const CLAUDE_CODE_HOST: &str = "claude-code";
pub const CLAUDE_CODE_HELPER_TTL_MS: u64 = 300_000;
/// Claude Code's configuration directory and settings files (user; project, personal).
pub const CLAUDE_CODE_DIR: &str = ".claude";
pub const CLAUDE_CODE_SETTINGS_FILE: &str = "settings.json";
pub const CLAUDE_CODE_LOCAL_SETTINGS_FILE: &str = "settings.local.json";
/// kimi-native's record of what `setup claude-code` changed (for `--remove`; no secret in it).
pub const SETUP_RECORD_FILE: &str = "setup-claude-code.json";

/// Environment variables.
/// Platform endpoints under the coding base (docs/kimi-wire.md §6.6–§6.8).
pub const FILES_PATH: &str = "/files";
pub const SEARCH_PATH: &str = "/search";
pub const FETCH_PATH: &str = "/fetch";
pub const TOOLS_PATH: &str = "/tools";
pub const ME_PATH: &str = "/me";
/// `ms://<file-id>` is how an uploaded file is referenced in a chat (docs/kimi-wire.md §6.7).
pub const FILE_REF_SCHEME: &str = "ms://";
/// Error type the fetch service answers for a URL it refuses (docs/kimi-wire.md §6.8, community).
pub const ERR_TYPE_SECURITY_RISK: &str = "security_risk";
/// Inline images larger than this (decoded bytes) go through the Files API (issue #16).
pub const UPLOAD_THRESHOLD_BYTES: u64 = 1024 * 1024;
/// Upload cache: entries kept per account, file under the kimi-native home.
pub const UPLOAD_CACHE_DIR: &str = "uploads";
pub const UPLOAD_CACHE_MAX_ENTRIES: usize = 512;
/// Response header naming a shaping step that was skipped (e.g. an image upload that failed).
pub const WARNING_HEADER: &str = "x-kimi-native-warning";
/// Host-feature settings (e.g. which agent tools are on): per user in the kimi-native home,
/// per project in the project directory. The user's choice (a host option, else the user file)
/// decides; a project file may only narrow it (fewer tools), never widen it (lib/tools.js).
pub const USER_CONFIG_FILE: &str = "config.json";
pub const PROJECT_CONFIG_FILE: &str = ".kimi-native.json";
/// Backups `import` and `setup` keep of one host file (`<file>.bak-<time>`, 0600): each holds every
/// provider's secrets that file held, so older ones are deleted.
pub const HOST_FILE_BACKUPS_KEPT: usize = 3;
/// Default timeouts of the platform calls. Search: kimi-cli's 180 s total (docs/kimi-wire.md §6.8).
pub const SEARCH_TIMEOUT_MS: u64 = 180_000;
pub const FETCH_URL_TIMEOUT_MS: u64 = 120_000;
pub const UPLOAD_TIMEOUT_MS: u64 = 300_000;
pub const TOOLS_TIMEOUT_MS: u64 = 120_000;
pub const ME_TIMEOUT_MS: u64 = 30_000;
/// An image upload inside a chat request waits at most this long before the image goes inline.
pub const SHAPING_UPLOAD_TIMEOUT_MS: u64 = 60_000;

pub mod env {
  pub const OAUTH_HOST: &str = "KIMI_CODE_OAUTH_HOST";
  pub const OAUTH_HOST_LEGACY: &str = "KIMI_OAUTH_HOST";
  pub const BASE_URL: &str = "KIMI_CODE_BASE_URL";
  pub const API_KEY: &str = "KIMI_API_KEY";
  pub const KIMI_CODE_HOME: &str = "KIMI_CODE_HOME";
  pub const KIMI_SHARE_DIR: &str = "KIMI_SHARE_DIR";
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
  /// Origins besides Kimi's own that may receive a credential when a host's options name them
  /// (comma-separated, e.g. a local proxy): the user's explicit opt-in (docs/security.md).
  pub const TRUSTED_ORIGINS: &str = "KIMI_NATIVE_TRUSTED_ORIGINS";
  pub const THINKING_KEEP: &str = "KIMI_MODEL_THINKING_KEEP";
  /// Hosts' own locations, read by `import` to find other plugins' logins.
  pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
  pub const PI_CODING_AGENT_DIR: &str = "PI_CODING_AGENT_DIR";
  pub const UPLOAD_THRESHOLD_BYTES: &str = "KIMI_NATIVE_UPLOAD_THRESHOLD_BYTES";
  /// Claude Code's own variables, read where kimi-native works with it (issue #22).
  pub const CLAUDE_CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
  pub const CLAUDE_HELPER_TTL_MS: &str = "CLAUDE_CODE_API_KEY_HELPER_TTL_MS";
  pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
  pub const ANTHROPIC_AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
  pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
  pub const ANTHROPIC_MODEL: &str = "ANTHROPIC_MODEL";
  /// Deprecated name of the Haiku-class model; 2.1.332 still reads it before the new one.
  pub const ANTHROPIC_SMALL_FAST_MODEL: &str = "ANTHROPIC_SMALL_FAST_MODEL";
  /// The model each of Claude Code's aliases (subagents, `/model opus`…) resolves to.
  pub const ANTHROPIC_ALIAS_MODELS: [&str; 4] = [
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_FABLE_MODEL",
  ];
  /// The context window of a model Claude Code does not know (its own unknown-model notice
  /// names this variable).
  pub const CLAUDE_MAX_CONTEXT_TOKENS: &str = "CLAUDE_CODE_MAX_CONTEXT_TOKENS";
}
