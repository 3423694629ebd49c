//! Resolves what every operation needs (profile, version, hosts, store, directories) from
//! explicit options, then the environment, then defaults — and remembers where each value
//! came from so `identity()` and `status()` can explain it.
//! Every environment read goes through [`EnvSource`], so a test can pass its own.

use super::url::{origin_of, trusted_origins, validate_url};
use super::{Options, Profile, Region, StoreKind};
use crate::constants::{self as c, env};
use crate::error::{KimiError, Result};
use std::path::PathBuf;
use std::time::Duration;

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
  /// The `thinking.keep` value sent with a thinking request; `None` drops it.
  pub thinking_keep: Option<String>,
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

/// `thinking.keep` as kimi-code resolves it: `KIMI_MODEL_THINKING_KEEP`, else "all"; an
/// off-value (`0`, `false`, `no`, `off`, `none`, `null`) drops it.
pub fn thinking_keep(env: &dyn EnvSource) -> Option<String> {
  let Some(v) = env.var(env::THINKING_KEEP) else {
    return Some(c::THINKING_KEEP.into());
  };
  let v = v.trim();
  let off = ["0", "false", "no", "off", "none", "null"].contains(&v.to_ascii_lowercase().as_str());
  (!off).then(|| v.to_string())
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
    let mut env_origins = trusted_origins(env.var(env::TRUSTED_ORIGINS))?;
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
      thinking_keep: thinking_keep(env),
    })
  }
}

#[cfg(test)]
mod tests {
  use super::super::env_of;
  use super::*;

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
  fn region_global_switches_both_hosts() {
    let env = env_of(&[("KIMI_NATIVE_REGION", "global"), ("KIMI_NATIVE_HOME", "/x")]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert_eq!(s.oauth_host, c::OAUTH_HOST_GLOBAL);
    assert_eq!(s.base_url, c::BASE_URL_GLOBAL);
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

  #[test]
  fn thinking_keep_defaults_to_all_and_off_values_drop_it() {
    let keep = |v: &str| thinking_keep(&env_of(&[("KIMI_MODEL_THINKING_KEEP", v)]));
    assert_eq!(thinking_keep(&env_of(&[])).as_deref(), Some("all"));
    assert_eq!(keep(" recent ").as_deref(), Some("recent"));
    for off in ["0", "false", "No", "OFF", "none", "null"] {
      assert_eq!(keep(off), None, "{off}");
    }
    let s = Settings::resolve_with(&Options::default(), &env_of(&[("KIMI_NATIVE_HOME", "/x")])).unwrap();
    assert_eq!(s.thinking_keep.as_deref(), Some("all"));
  }
}
