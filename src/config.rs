//! Resolves what every operation needs (profile, version, hosts, store, directories) from
//! explicit options, then the environment, then defaults — and remembers where each value
//! came from so `identity()` and `status()` can explain it.

use crate::constants::{self as c, env};
use crate::error::{KimiError, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
  /// Honest default: the host's own product token, then kimi-native's (docs/identity.md).
  Native,
  /// Opt-in: Moonshot's kimi-code 2.1.0 identity, byte for byte (docs/kimi-wire.md §5).
  KimiCode,
  /// Opt-in: Moonshot's kimi-cli 1.52.0 identity, byte for byte (docs/kimi-wire.md §5).
  KimiCli,
}

impl Profile {
  /// Every profile, for CLI choices and docs (the JS side reads them through `constants()`).
  pub const ALL: [Profile; 3] = [Profile::Native, Profile::KimiCode, Profile::KimiCli];
  pub fn parse(s: &str) -> Result<Profile> {
    match s.trim() {
      "native" | "host" => Ok(Profile::Native),
      "kimi-code" | "kimi_code" | "kimi-code-cli" => Ok(Profile::KimiCode),
      "kimi-cli" | "kimi_cli" => Ok(Profile::KimiCli),
      other => Err(KimiError::bad_input(format!(
        "Unknown profile {other:?}: use \"native\" (default), or opt in to \"kimi-code\" or \"kimi-cli\"."
      ))),
    }
  }
  pub fn as_str(self) -> &'static str {
    match self {
      Profile::Native => "native",
      Profile::KimiCode => "kimi-code",
      Profile::KimiCli => "kimi-cli",
    }
  }
  /// True for the profiles that present an official Moonshot client's identity.
  pub fn is_official(self) -> bool {
    self != Profile::Native
  }
  pub fn default_version(self) -> &'static str {
    match self {
      Profile::Native => c::NATIVE_VERSION,
      Profile::KimiCode => c::KIMI_CODE_VERSION,
      Profile::KimiCli => c::KIMI_CLI_VERSION,
    }
  }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
  Cn,
  Global,
}

impl Region {
  pub const ALL: [Region; 2] = [Region::Cn, Region::Global];
  pub fn parse(s: &str) -> Result<Region> {
    match s.trim() {
      "cn" | "mainland-cn" | "china" => Ok(Region::Cn),
      "global" | "intl" | "international" => Ok(Region::Global),
      other => Err(KimiError::bad_input(format!(
        "Unknown region {other:?}: use \"cn\" or \"global\"."
      ))),
    }
  }
  pub fn as_str(self) -> &'static str {
    match self {
      Region::Cn => "cn",
      Region::Global => "global",
    }
  }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
  Auto,
  Keychain,
  File,
}

impl StoreKind {
  pub const ALL: [StoreKind; 3] = [StoreKind::Auto, StoreKind::Keychain, StoreKind::File];
  pub fn as_str(self) -> &'static str {
    match self {
      StoreKind::Auto => "auto",
      StoreKind::Keychain => "keychain",
      StoreKind::File => "file",
    }
  }
  pub fn parse(s: &str) -> Result<StoreKind> {
    match s.trim() {
      "auto" => Ok(StoreKind::Auto),
      "keychain" | "keyring" => Ok(StoreKind::Keychain),
      "file" => Ok(StoreKind::File),
      other => Err(KimiError::bad_input(format!(
        "Unknown store {other:?}: use \"auto\", \"keychain\" or \"file\"."
      ))),
    }
  }
}

/// Options as given by a host (all optional). Field names match the JS API (camelCase). This
/// struct is the one list of option keys: [`option_keys`] derives the JS names from it, and the
/// JS layer reads them through `constants()`, so a new option is one field here.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
  pub profile: Option<String>,
  pub version: Option<String>,
  pub region: Option<String>,
  pub oauth_host: Option<String>,
  pub base_url: Option<String>,
  pub store: Option<String>,
  pub home: Option<String>,
  /// The calling host's own product token, read from the running host: `pi/1.6.0`.
  pub host: Option<String>,
  /// The JS runtime kimi-native runs in (`node/v22.23.3`, `bun/1.3.14`); set by lib/index.js.
  pub runtime: Option<String>,
  /// Inline images above this many bytes are uploaded as `ms://` references; 0 turns it off.
  /// A number from JS (napi hands numbers over as floats).
  pub upload_threshold_bytes: Option<f64>,
}

/// The JS names of the fields of [`Options`] a host may set, in declaration order (`runtime`
/// is filled in by lib/index.js itself).
pub fn option_keys() -> Vec<String> {
  match serde_json::to_value(Options::default()) {
    Ok(serde_json::Value::Object(map)) => map.keys().filter(|k| *k != "runtime").cloned().collect(),
    _ => Vec::new(),
  }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
  Option,
  Env(&'static str),
  Default,
}

impl Source {
  pub fn describe(&self) -> String {
    match self {
      Source::Option => "option".into(),
      Source::Env(name) => format!("env:{name}"),
      Source::Default => "default".into(),
    }
  }
}

#[derive(Debug, Clone)]
pub struct Settings {
  pub profile: Profile,
  pub profile_source: Source,
  pub version: String,
  pub version_source: Source,
  pub region: Region,
  pub oauth_host: String,
  pub oauth_host_source: Source,
  pub base_url: String,
  pub base_url_source: Source,
  pub store: StoreKind,
  pub store_source: Source,
  /// kimi-native's own directory (file store, lock, model cache).
  pub home: PathBuf,
  /// The official client's home for this profile (device id, read-only credentials).
  pub official_home: PathBuf,
  /// Both official clients' homes, whose credential files are reused read-only.
  pub kimi_code_home: Option<PathBuf>,
  pub kimi_share_dir: Option<PathBuf>,
  /// Whether the official clients' credential files may be reused at all.
  pub official_credentials: bool,
  /// `KIMI_API_KEY`: a static key used when no login is stored.
  pub api_key: Option<Secret>,
  /// Origins the user's own environment names (`KIMI_CODE_OAUTH_HOST`, `KIMI_OAUTH_HOST`,
  /// `KIMI_CODE_BASE_URL`, `KIMI_NATIVE_TRUSTED_ORIGINS`): with Kimi's own, the only places a
  /// credential may go (see [`Settings::origin_refusal`]).
  pub env_origins: Vec<String>,
  /// The host/base pair kimi-cli uses in this environment: it names its credential file the same
  /// for every pair, so its login is usable only when ours is that pair (docs/kimi-wire.md §3).
  pub kimi_cli_pair: (String, String),
  /// Floor of the refresh-ahead window (docs/kimi-wire.md §2: 300 s).
  pub refresh_floor_secs: f64,
  /// How long a device login may wait for approval in all (docs/kimi-wire.md §1.4: 15 min).
  pub login_budget: Duration,
  /// How long one keychain call may take before `auto` falls back to the file.
  pub keychain_timeout: Duration,
  /// Host product token (native profile), validated; `None` when kimi-native itself calls.
  pub host: Option<String>,
  pub runtime: Option<String>,
  /// Inline images above this many decoded bytes are uploaded (0 = never).
  pub upload_threshold_bytes: u64,
}

/// A secret value: usable, but never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
  pub fn new(value: impl Into<String>) -> Secret {
    Secret(value.into())
  }
  pub fn expose(&self) -> &str {
    &self.0
  }
}

impl std::fmt::Debug for Secret {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("Secret([redacted])")
  }
}

/// Environment lookup, injectable for tests.
pub trait EnvSource {
  fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
  fn var(&self, name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
  }
}

impl<F: Fn(&str) -> Option<String>> EnvSource for F {
  fn var(&self, name: &str) -> Option<String> {
    self(name)
  }
}

pub fn home_dir() -> Option<PathBuf> {
  #[allow(deprecated)] // fixed and un-deprecated in Rust 1.86+; kept for older toolchains
  std::env::home_dir().filter(|p| !p.as_os_str().is_empty())
}

fn pick(opt: &Option<String>, env: &dyn EnvSource, names: &[&'static str]) -> Option<(String, Source)> {
  if let Some(v) = opt.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()) {
    return Some((v.to_string(), Source::Option));
  }
  names
    .iter()
    .find_map(|n| env.var(n).map(|v| (v.trim().to_string(), Source::Env(n))))
}

fn number<T: std::str::FromStr>(env: &dyn EnvSource, name: &str) -> Option<T> {
  env.var(name).and_then(|v| v.trim().parse().ok())
}

/// A User-Agent product list such as `pi/1.6.0` or `opencode/1.18.33 ai-sdk/x`: visible ASCII
/// and single spaces only, so it can go into a header unchanged and cannot inject one.
fn product_list(kind: &str, value: &str) -> Result<String> {
  let v = value.trim();
  let ok = !v.is_empty()
    && v.len() <= 200
    && v.chars().all(|ch| (' '..='~').contains(&ch))
    && v
      .split(' ')
      .next()
      .is_some_and(|first| first.contains('/') && !first.starts_with('/'));
  if ok {
    Ok(v.to_string())
  } else {
    Err(KimiError::bad_input(format!(
      "{kind} must be a product token like \"pi/1.6.0\" (printable ASCII, at most 200 characters), got {value:?}."
    )))
  }
}

fn trim_slash(s: &str) -> String {
  s.trim_end_matches('/').to_string()
}

/// What an origin is used for: Kimi's own origins differ per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
  OAuth,
  Api,
}

impl Role {
  fn option_name(self) -> &'static str {
    match self {
      Role::OAuth => "oauthHost",
      Role::Api => "baseUrl",
    }
  }
}

/// `scheme://host[:port]` of a URL (lowercase host, default port left out); `null` when it has none.
pub fn origin_of(url: &str) -> String {
  reqwest::Url::parse(url)
    .map(|u| u.origin().ascii_serialization())
    .unwrap_or_else(|_| "null".into())
}

/// True for Kimi's own origins in a role: the OAuth hosts, or the API hosts (both regions).
pub fn is_kimi_origin(url: &str, role: Role) -> bool {
  let urls = match role {
    Role::OAuth => [c::OAUTH_HOST_CN, c::OAUTH_HOST_GLOBAL],
    Role::Api => [c::BASE_URL_CN, c::BASE_URL_GLOBAL],
  };
  let origin = origin_of(url);
  urls.iter().any(|u| origin_of(u) == origin)
}

/// The origins named by `KIMI_NATIVE_TRUSTED_ORIGINS` (comma or space separated URLs).
fn trusted_origins(env: &dyn EnvSource) -> Result<Vec<String>> {
  let Some(list) = env.var(env::TRUSTED_ORIGINS) else {
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

fn validate_url(kind: &str, url: &str) -> Result<()> {
  if url.starts_with("https://") || url.starts_with("http://") {
    Ok(())
  } else {
    Err(KimiError::bad_input(format!(
      "{kind} must be an http(s) URL, got {url:?}."
    )))
  }
}

impl Settings {
  pub fn resolve(opts: &Options) -> Result<Settings> {
    Self::resolve_with(opts, &ProcessEnv)
  }

  pub fn resolve_with(opts: &Options, env: &dyn EnvSource) -> Result<Settings> {
    let (profile, profile_source) = match pick(&opts.profile, env, &[env::PROFILE]) {
      Some((v, s)) => (Profile::parse(&v)?, s),
      None => (Profile::Native, Source::Default),
    };
    // The version override only concerns an official client's claimed version; the native
    // profile always names the kimi-native that is really running.
    let (version, version_source) = match profile {
      Profile::Native => (c::NATIVE_VERSION.to_string(), Source::Default),
      _ => pick(&opts.version, env, &[env::CLIENT_VERSION])
        .unwrap_or_else(|| (profile.default_version().to_string(), Source::Default)),
    };
    let host = opts.host.as_deref().map(|h| product_list("host", h)).transpose()?;
    let runtime = opts
      .runtime
      .as_deref()
      .map(|r| product_list("runtime", r))
      .transpose()?;
    let region = match pick(&opts.region, env, &[env::REGION]) {
      Some((v, _)) => Region::parse(&v)?,
      None => Region::Cn,
    };
    let (default_host, default_base) = match region {
      Region::Cn => (c::OAUTH_HOST_CN, c::BASE_URL_CN),
      Region::Global => (c::OAUTH_HOST_GLOBAL, c::BASE_URL_GLOBAL),
    };
    let (oauth_host, oauth_host_source) = pick(&opts.oauth_host, env, &[env::OAUTH_HOST, env::OAUTH_HOST_LEGACY])
      .unwrap_or_else(|| (default_host.to_string(), Source::Default));
    let (base_url, base_url_source) =
      pick(&opts.base_url, env, &[env::BASE_URL]).unwrap_or_else(|| (default_base.to_string(), Source::Default));
    let oauth_host = trim_slash(&oauth_host);
    let base_url = trim_slash(&base_url);
    validate_url("oauthHost", &oauth_host)?;
    validate_url("baseUrl", &base_url)?;
    // What the user's own environment names, whatever the options say: kimi-cli's pair, and the
    // origins a credential may reach besides Kimi's.
    let env_oauth = pick(&None, env, &[env::OAUTH_HOST, env::OAUTH_HOST_LEGACY]).map(|(v, _)| trim_slash(&v));
    let env_base = pick(&None, env, &[env::BASE_URL]).map(|(v, _)| trim_slash(&v));
    let mut env_origins = trusted_origins(env)?;
    env_origins.extend(env_oauth.iter().chain(&env_base).map(|u| origin_of(u)));
    env_origins.retain(|o| o != "null");
    let kimi_cli_pair = (
      env_oauth.unwrap_or_else(|| c::OAUTH_HOST_CN.to_string()),
      env_base.unwrap_or_else(|| c::BASE_URL_CN.to_string()),
    );
    let (store, store_source) = match pick(&opts.store, env, &[env::STORE]) {
      Some((v, s)) => (StoreKind::parse(&v)?, s),
      None => (StoreKind::Auto, Source::Default),
    };
    let user_home = home_dir();
    let home = match pick(&opts.home, env, &[env::HOME]) {
      Some((v, _)) => PathBuf::from(v),
      None => user_home
        .as_ref()
        .map(|h| h.join(c::NATIVE_HOME_DIR))
        .ok_or_else(|| KimiError::bad_input("No home directory found: set KIMI_NATIVE_HOME."))?,
    };
    let kimi_code_home = env
      .var(env::KIMI_CODE_HOME)
      .map(PathBuf::from)
      .or_else(|| user_home.as_ref().map(|h| h.join(c::KIMI_CODE_HOME_DIR)));
    let kimi_share_dir = env
      .var(env::KIMI_SHARE_DIR)
      .map(PathBuf::from)
      .or_else(|| user_home.as_ref().map(|h| h.join(c::KIMI_CLI_HOME_DIR)));
    // The native profile has no official home: it never reads or writes a device-id file.
    let official_home = match profile {
      Profile::Native => None,
      Profile::KimiCode => kimi_code_home.clone(),
      Profile::KimiCli => kimi_share_dir.clone(),
    }
    .unwrap_or_else(|| home.clone());
    let api_key = env
      .var(env::API_KEY)
      .map(|k| k.trim().to_string())
      .filter(|k| !k.is_empty())
      .map(Secret);
    let refresh_floor_secs = number::<f64>(env, env::REFRESH_FLOOR_SECS)
      .filter(|f| f.is_finite() && *f >= 0.0)
      .unwrap_or(c::REFRESH_FLOOR_SECS);
    let login_budget = Duration::from_secs(number(env, env::LOGIN_BUDGET_SECS).unwrap_or(c::DEVICE_LOGIN_BUDGET_SECS));
    let keychain_timeout = Duration::from_millis(
      number::<u64>(env, env::KEYCHAIN_TIMEOUT_MS)
        .unwrap_or(c::KEYCHAIN_TIMEOUT_MS)
        .max(1),
    );
    let upload_threshold_bytes = opts
      .upload_threshold_bytes
      .filter(|v| v.is_finite() && *v >= 0.0)
      .map(|v| v as u64)
      .or_else(|| number(env, env::UPLOAD_THRESHOLD_BYTES))
      .unwrap_or(c::UPLOAD_THRESHOLD_BYTES);
    Ok(Settings {
      profile,
      profile_source,
      version,
      version_source,
      region,
      oauth_host,
      oauth_host_source,
      base_url,
      base_url_source,
      store,
      store_source,
      home,
      official_home,
      kimi_code_home,
      kimi_share_dir,
      official_credentials: env.var(env::DISABLE_OFFICIAL).as_deref() != Some("1"),
      api_key,
      env_origins,
      kimi_cli_pair,
      refresh_floor_secs,
      login_budget,
      keychain_timeout,
      host,
      runtime,
      upload_threshold_bytes,
    })
  }

  /// Whether a credential may go to this origin: it is Kimi's own for its role, or the user's
  /// environment names it. Nothing a host or a project passes as an option can widen this.
  pub fn may_receive_credentials(&self, url: &str, role: Role) -> bool {
    is_kimi_origin(url, role) || self.env_origins.contains(&origin_of(url))
  }

  /// Why no credential may be used with these settings: the OAuth host or the API base is
  /// neither Kimi's nor named by the user's environment (it came from a host's options, which
  /// a project's configuration can set). Every credential path asks this first.
  pub fn origin_refusal(&self) -> Option<KimiError> {
    let (url, source, role) = [
      (&self.base_url, &self.base_url_source, Role::Api),
      (&self.oauth_host, &self.oauth_host_source, Role::OAuth),
    ]
    .into_iter()
    .find(|(url, _, role)| !self.may_receive_credentials(url, *role))?;
    let origin = origin_of(url);
    Some(KimiError::new(
      crate::error::Code::UntrustedOrigin,
      format!(
        "kimi-native sends no Kimi credential to {origin}: the {} {url} ({}) is not a Kimi server and your environment does not name it. \
         If it is a server you run yourself, name it in your environment ({}={origin}); otherwise remove {} from the host's kimi-native settings.",
        role.option_name(),
        source.describe(),
        env::TRUSTED_ORIGINS,
        role.option_name(),
      ),
    ))
  }

  /// For login output: the OAuth host when it is not Kimi's, so no one is told they are
  /// signing in to Kimi For Coding when they are not.
  pub fn foreign_login_notice(&self) -> Option<String> {
    (!is_kimi_origin(&self.oauth_host, Role::OAuth)).then(|| {
      format!(
        "This login is with {}, which is NOT a Kimi server (oauthHost from {}). Approve it only if you run that server yourself.",
        origin_of(&self.oauth_host),
        self.oauth_host_source.describe()
      )
    })
  }

  /// True when kimi-cli's credential file belongs to this pair (see `kimi_cli_pair`).
  pub fn is_kimi_cli_pair(&self) -> bool {
    self.kimi_cli_pair.0 == self.oauth_host && self.kimi_cli_pair.1 == self.base_url
  }

  /// Storage slot for this host/base pair, named the way kimi-code names its credential
  /// files so that logins against different servers never overwrite each other (docs/kimi-wire.md §3).
  pub fn slot(&self) -> String {
    slot_for(&self.oauth_host, &self.base_url)
  }

  /// Key that identifies one login: the same across processes, profile-independent
  /// (both profiles use the same OAuth client).
  pub fn login_key(&self) -> String {
    format!("{}|{}", self.home.display(), self.slot())
  }

  /// The cross-process lock of this login. It lives in the home, and so does the login's
  /// keychain account (see `keychain_account`): one credential, one lock.
  pub fn lock_path(&self) -> PathBuf {
    self.home.join("locks").join(format!("{}.lock", self.slot()))
  }

  /// Held by every keychain write of this login, in any process, so that a write left running
  /// after its timeout cannot land after a later one (store/keychain.rs).
  pub fn keychain_write_lock_path(&self) -> PathBuf {
    self.home.join("locks").join(format!("{}.keychain.lock", self.slot()))
  }

  /// The keychain account of this login. The default home keeps the plain `oauth/<slot>` name;
  /// any other home (`KIMI_NATIVE_HOME`) gets its own account, because the refresh lock lives
  /// in the home and two homes sharing one credential would refresh it without excluding
  /// each other.
  pub fn keychain_account(&self) -> String {
    let default_home = home_dir().map(|h| h.join(c::NATIVE_HOME_DIR));
    if default_home.as_deref() == Some(self.home.as_path()) {
      format!("oauth/{}", self.slot())
    } else {
      let digest = Sha256::digest(self.home.to_string_lossy().as_bytes());
      let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
      format!("oauth/{}@{hex}", self.slot())
    }
  }
}

pub fn slot_for(oauth_host: &str, base_url: &str) -> String {
  if oauth_host == c::OAUTH_HOST_CN && base_url == c::BASE_URL_CN {
    return "kimi-code".to_string();
  }
  #[derive(serde::Serialize)]
  #[serde(rename_all = "camelCase")]
  struct Pair<'a> {
    oauth_host: &'a str,
    base_url: &'a str,
  }
  let json = serde_json::to_string(&Pair { oauth_host, base_url }).unwrap_or_default();
  let digest = Sha256::digest(json.as_bytes());
  let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
  format!("kimi-code-env-{hex}")
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::collections::HashMap;

  fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k: &str| map.get(k).cloned()
  }

  #[test]
  fn slot_matches_kimi_code_formula_from_golden_capture() {
    // The file kimi-code wrote for the capture server (vendored in __test__/golden).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("__test__/golden/ts-kchome-credentials");
    let names: Vec<String> = std::fs::read_dir(&dir)
      .unwrap()
      .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
      .collect();
    assert_eq!(
      names,
      [format!(
        "{}.json",
        slot_for("http://127.0.0.1:18778", "http://127.0.0.1:18778/coding/v1")
      )]
    );
    assert_eq!(slot_for(c::OAUTH_HOST_CN, c::BASE_URL_CN), "kimi-code");
    // docs/kimi-wire.md §3: computed name for a global-region login
    assert_eq!(
      slot_for(c::OAUTH_HOST_GLOBAL, c::BASE_URL_GLOBAL),
      "kimi-code-env-0e4f99c69cc27850"
    );
  }

  #[test]
  fn precedence_option_env_default() {
    let env = env_of(&[
      ("KIMI_CODE_OAUTH_HOST", "http://127.0.0.1:1/"),
      ("KIMI_OAUTH_HOST", "http://ignored"),
      ("KIMI_NATIVE_HOME", "/x"),
    ]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert_eq!(s.oauth_host, "http://127.0.0.1:1");
    assert_eq!(s.oauth_host_source, Source::Env("KIMI_CODE_OAUTH_HOST"));
    assert_eq!(s.base_url, c::BASE_URL_CN);
    assert_eq!(s.profile, Profile::Native, "honest by default");
    assert_eq!(s.version, c::NATIVE_VERSION);
    let code = Options {
      profile: Some("kimi-code".into()),
      ..Default::default()
    };
    assert_eq!(Settings::resolve_with(&code, &env).unwrap().version, "2.1.0");
    let opts = Options {
      oauth_host: Some("https://o".into()),
      profile: Some("kimi-cli".into()),
      ..Default::default()
    };
    let s = Settings::resolve_with(&opts, &env).unwrap();
    assert_eq!(s.oauth_host, "https://o");
    assert_eq!(s.version, "1.52.0");
    let legacy = env_of(&[("KIMI_OAUTH_HOST", "http://legacy"), ("KIMI_NATIVE_HOME", "/x")]);
    assert_eq!(
      Settings::resolve_with(&Options::default(), &legacy).unwrap().oauth_host,
      "http://legacy"
    );
  }

  #[test]
  fn native_ignores_the_claimed_version_and_has_no_official_home() {
    let env = env_of(&[
      ("KIMI_NATIVE_HOME", "/x"),
      ("KIMI_NATIVE_CLIENT_VERSION", "9.9.9"),
      ("KIMI_CODE_HOME", "/official"),
    ]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert_eq!((s.profile, s.version.as_str()), (Profile::Native, c::NATIVE_VERSION));
    assert_eq!(s.official_home, PathBuf::from("/x"));
    let env = env_of(&[("KIMI_NATIVE_HOME", "/x"), ("KIMI_NATIVE_PROFILE", "kimi-code")]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert_eq!(s.profile, Profile::KimiCode);
    assert_eq!(s.profile_source, Source::Env("KIMI_NATIVE_PROFILE"));
    let opts = Options {
      host: Some(" opencode/1.18.33 ".into()),
      ..Default::default()
    };
    assert_eq!(
      Settings::resolve_with(&opts, &env).unwrap().host.as_deref(),
      Some("opencode/1.18.33")
    );
  }

  #[test]
  fn a_server_named_only_by_options_gets_no_credential_unless_the_environment_names_it() {
    let opts = |base: &str, oauth: Option<&str>| Options {
      base_url: Some(base.into()),
      oauth_host: oauth.map(String::from),
      ..Default::default()
    };
    let refused = |o: &Options, env: &[(&str, &str)]| {
      let mut all = vec![("KIMI_NATIVE_HOME", "/x")];
      all.extend_from_slice(env);
      Settings::resolve_with(o, &env_of(&all)).unwrap().origin_refusal()
    };
    assert!(refused(&Options::default(), &[]).is_none(), "Kimi's defaults");
    assert!(refused(&opts(c::BASE_URL_GLOBAL, Some(c::OAUTH_HOST_GLOBAL)), &[]).is_none());
    // Kimi's, but not its API: a key for the API does not go to the login host.
    let e = refused(&opts("https://auth.kimi.com/coding/v1", None), &[]).unwrap();
    assert_eq!(e.code, crate::error::Code::UntrustedOrigin);
    let e = refused(&opts("http://127.0.0.1:8/coding/v1", None), &[]).unwrap();
    assert!(
      e.message.contains("http://127.0.0.1:8") && e.message.contains("baseUrl") && e.message.contains("(option)")
    );
    assert!(
      e.message.contains("KIMI_NATIVE_TRUSTED_ORIGINS=http://127.0.0.1:8"),
      "{}",
      e.message
    );
    let e = refused(&opts(c::BASE_URL_CN, Some("https://evil.example:444/")), &[]).unwrap();
    assert!(e.message.contains("https://evil.example:444") && e.message.contains("oauthHost"));
    // Named by the environment: the opt-in list, or the variables that set the hosts.
    let local = opts("http://127.0.0.1:8/coding/v1", Some("http://127.0.0.1:8"));
    assert!(refused(
      &local,
      &[("KIMI_NATIVE_TRUSTED_ORIGINS", "https://x.example, http://127.0.0.1:8/")]
    )
    .is_none());
    assert!(refused(&local, &[("KIMI_CODE_BASE_URL", "http://127.0.0.1:8/other")]).is_none());
    assert!(refused(&local, &[("KIMI_NATIVE_TRUSTED_ORIGINS", "http://127.0.0.1:9")]).is_some());
    let bad = Settings::resolve_with(
      &local,
      &env_of(&[
        ("KIMI_NATIVE_HOME", "/x"),
        ("KIMI_NATIVE_TRUSTED_ORIGINS", "127.0.0.1:8"),
      ]),
    );
    assert_eq!(bad.unwrap_err().code, crate::error::Code::BadInput);
  }

  #[test]
  fn kimi_cli_pair_and_the_login_notice_follow_the_environment() {
    let env = env_of(&[("KIMI_NATIVE_HOME", "/x")]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert!(s.is_kimi_cli_pair());
    assert!(s.foreign_login_notice().is_none());
    let global = Options {
      region: Some("global".into()),
      ..Default::default()
    };
    assert!(
      !Settings::resolve_with(&global, &env).unwrap().is_kimi_cli_pair(),
      "kimi-cli has no region"
    );
    let env = env_of(&[
      ("KIMI_NATIVE_HOME", "/x"),
      ("KIMI_OAUTH_HOST", "http://127.0.0.1:8/"),
      ("KIMI_CODE_BASE_URL", "http://127.0.0.1:8/coding/v1"),
    ]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert!(s.is_kimi_cli_pair());
    let notice = s.foreign_login_notice().unwrap();
    assert!(
      notice.contains("http://127.0.0.1:8, which is NOT a Kimi server") && notice.contains("env:KIMI_OAUTH_HOST")
    );
  }

  #[test]
  fn region_global_switches_both_hosts() {
    let env = env_of(&[("KIMI_NATIVE_REGION", "global"), ("KIMI_NATIVE_HOME", "/x")]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert_eq!(s.oauth_host, c::OAUTH_HOST_GLOBAL);
    assert_eq!(s.base_url, c::BASE_URL_GLOBAL);
  }

  #[test]
  fn option_keys_are_the_camel_case_fields_and_each_one_is_read() {
    let keys = option_keys();
    for k in ["profile", "version", "region", "oauthHost", "baseUrl", "store", "home"] {
      assert!(keys.iter().any(|have| have == k), "{k} missing from {keys:?}");
    }
    // Every key deserialises into its own field (a typo in a rename would leave it None).
    for k in &keys {
      let value = match k.as_str() {
        "uploadThresholdBytes" => serde_json::json!(1024.0),
        _ => serde_json::json!("x"),
      };
      let opts: Options = serde_json::from_value(serde_json::json!({ k.as_str(): value.clone() })).unwrap();
      let back = serde_json::to_value(&opts).unwrap();
      assert_eq!(back[k.as_str()], value, "{k}");
    }
  }

  #[test]
  fn choices_parse_back() {
    for p in Profile::ALL {
      assert_eq!(Profile::parse(p.as_str()).unwrap(), p);
    }
    for r in Region::ALL {
      assert_eq!(Region::parse(r.as_str()).unwrap(), r);
    }
    for k in StoreKind::ALL {
      assert_eq!(StoreKind::parse(k.as_str()).unwrap(), k);
    }
  }

  #[test]
  fn rejects_bad_values() {
    let env = env_of(&[("KIMI_NATIVE_HOME", "/x")]);
    for opts in [
      Options {
        profile: Some("claude".into()),
        ..Default::default()
      },
      Options {
        store: Some("memory".into()),
        ..Default::default()
      },
      Options {
        base_url: Some("ftp://x".into()),
        ..Default::default()
      },
      Options {
        host: Some("pi/1.0\r\nX-Evil: 1".into()),
        ..Default::default()
      },
      Options {
        host: Some("pi".into()),
        ..Default::default()
      },
    ] {
      assert_eq!(
        Settings::resolve_with(&opts, &env).unwrap_err().code,
        crate::error::Code::BadInput
      );
    }
  }
}
