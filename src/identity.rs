//! Who a request says it comes from. Default (`native`, docs/identity.md): the host's own product
//! token, then `kimi-native/<version> (<platform>; <runtime>; <arch>)`, and no official-client
//! headers or device-id file. Opt-in (`kimi-code`, `kimi-cli`): the identity headers of the
//! official clients (docs/kimi-wire.md §4, §5), value formats, ASCII sanitising and device-id file
//! semantics exactly as each client does — with a one-time warning per process.

use crate::config::{Profile, Settings};
use crate::constants as c;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Facts about the machine, gathered once; injectable for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
  /// uname sysname: "Linux", "Darwin", "Windows_NT" (as Node's os.type()).
  pub os_type: String,
  /// Kernel release (os.release()): "6.8.0-101-generic", "24.1.0", "10.0.26100".
  pub release: String,
  /// Kernel build string (Python platform.version()).
  pub kernel_version: String,
  /// uname machine (Python platform.machine()): "x86_64", "arm64", "AMD64".
  pub machine: String,
  /// Node's os.arch(): "x64", "arm64", ...
  pub node_arch: String,
  pub hostname: String,
  /// macOS ProductVersion, when readable.
  pub macos_product_version: Option<String>,
  /// Windows build number (for Python's 10 → 11 mapping).
  pub windows_build: Option<u32>,
}

fn node_arch() -> &'static str {
  match std::env::consts::ARCH {
    "x86_64" => "x64",
    "aarch64" => "arm64",
    "x86" => "ia32",
    "arm" => "arm",
    "powerpc64" => "ppc64",
    "s390x" => "s390x",
    "riscv64" => "riscv64",
    "loongarch64" => "loong64",
    "mips" => "mips",
    "mips64" => "mips64el",
    other => other,
  }
}

impl HostInfo {
  pub fn current() -> HostInfo {
    static INFO: OnceLock<HostInfo> = OnceLock::new();
    INFO.get_or_init(HostInfo::gather).clone()
  }

  #[cfg(unix)]
  fn gather() -> HostInfo {
    fn field(raw: &[libc::c_char]) -> String {
      let bytes: Vec<u8> = raw.iter().take_while(|&&b| b != 0).map(|&b| b as u8).collect();
      String::from_utf8_lossy(&bytes).into_owned()
    }
    // SAFETY: uname fills a zeroed, properly sized struct; we only read it on success.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::uname(&mut uts) } == 0;
    let (sysname, release, version, machine) = if ok {
      (
        field(&uts.sysname),
        field(&uts.release),
        field(&uts.version),
        field(&uts.machine),
      )
    } else {
      (String::new(), String::new(), String::new(), String::new())
    };
    let macos_product_version = crate::os_version::macos_product_version();
    HostInfo {
      os_type: sysname,
      release,
      kernel_version: version,
      machine,
      node_arch: node_arch().to_string(),
      hostname: gethostname::gethostname().to_string_lossy().into_owned(),
      macos_product_version,
      windows_build: None,
    }
  }

  #[cfg(windows)]
  fn gather() -> HostInfo {
    let info = os_info::get();
    let (release, build) = match info.version() {
      os_info::Version::Semantic(major, minor, patch) => (format!("{major}.{minor}.{patch}"), Some(*patch as u32)),
      other => (other.to_string(), None),
    };
    let machine = match std::env::consts::ARCH {
      "x86_64" => "AMD64",
      "aarch64" => "ARM64",
      "x86" => "x86",
      other => other,
    };
    HostInfo {
      os_type: "Windows_NT".into(),
      release: release.clone(),
      kernel_version: release,
      machine: machine.into(),
      node_arch: node_arch().to_string(),
      hostname: gethostname::gethostname().to_string_lossy().into_owned(),
      macos_product_version: None,
      windows_build: build,
    }
  }
}

/// kimi-code's `asciiHeader`: drop everything outside U+0020–U+007E, trim, "unknown" if empty.
pub fn sanitize_kimi_code(value: &str) -> String {
  let kept: String = value.chars().filter(|ch| (' '..='~').contains(ch)).collect();
  let trimmed = kept.trim_matches(' ');
  if trimmed.is_empty() {
    "unknown".into()
  } else {
    trimmed.into()
  }
}

/// kimi-cli's `_ascii_header_value`: pure ASCII → `strip()`; otherwise drop non-ASCII, strip,
/// "unknown" if nothing is left. Interior ASCII control characters survive, as in Python.
pub fn sanitize_kimi_cli(value: &str) -> String {
  // Python's str.strip() whitespace, restricted to ASCII.
  let py_ws = |ch: char| matches!(ch, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1f');
  if value.is_ascii() {
    return value.trim_matches(py_ws).to_string();
  }
  let kept: String = value.chars().filter(|ch| ch.is_ascii()).collect();
  let stripped = kept.trim_matches(py_ws);
  if stripped.is_empty() {
    "unknown".into()
  } else {
    stripped.into()
  }
}

pub fn device_model(profile: Profile, host: &HostInfo) -> String {
  let join = |parts: &[&str]| {
    parts
      .iter()
      .filter(|p| !p.is_empty())
      .cloned()
      .collect::<Vec<_>>()
      .join(" ")
  };
  match profile {
    Profile::Native => String::new(),
    Profile::KimiCode => match host.os_type.as_str() {
      "Darwin" => {
        let version = host.macos_product_version.as_deref().unwrap_or(&host.release);
        format!("macOS {} {}", version, host.node_arch)
      }
      "Windows_NT" => format!("Windows {} {}", host.release, host.node_arch),
      _ => format!("{} {} {}", host.os_type, host.release, host.node_arch),
    },
    Profile::KimiCli => match host.os_type.as_str() {
      "Darwin" => {
        let version = host
          .macos_product_version
          .as_deref()
          .filter(|v| !v.is_empty())
          .unwrap_or(&host.release);
        join(&["macOS", version, &host.machine])
      }
      "Windows_NT" => {
        let major = host.release.split('.').next().unwrap_or("");
        let release = if major == "10" && host.windows_build.unwrap_or(0) >= 22000 {
          "11"
        } else {
          major
        };
        join(&["Windows", release, &host.machine])
      }
      "" => "Unknown".into(),
      _ => join(&[&host.os_type, &host.release, &host.machine]),
    },
  }
}

pub fn os_version(profile: Profile, host: &HostInfo) -> String {
  match profile {
    Profile::Native => String::new(),
    Profile::KimiCode => host.release.clone(),
    Profile::KimiCli => host.kernel_version.clone(),
  }
}

pub fn device_id_path(settings: &Settings) -> PathBuf {
  settings.official_home.join(c::DEVICE_ID_FILE)
}

/// Returns the device id of the profile's official client, creating it the way that client
/// does when it is missing: kimi-code writes a dashed UUID (0700 dir, 0600 file) and
/// regenerates an empty file; kimi-cli writes 32 hex and returns an existing empty file as "".
/// Both write the id without a newline. A write failure keeps the in-memory id (as kimi-code).
pub fn device_id(profile: Profile, path: &Path) -> String {
  if profile == Profile::Native {
    // The honest profile has no device id and never touches an official client's file.
    return String::new();
  }
  if let Ok(existing) = std::fs::read_to_string(path) {
    match profile {
      Profile::KimiCli => return existing.trim().to_string(),
      Profile::KimiCode if !existing.trim().is_empty() => return existing.trim().to_string(),
      _ => {}
    }
  }
  let id = match profile {
    Profile::KimiCli => uuid::Uuid::new_v4().simple().to_string(),
    _ => uuid::Uuid::new_v4().hyphenated().to_string(),
  };
  let _ = write_private(path, id.as_bytes(), profile == Profile::KimiCode);
  id
}

/// Creates `path` (and parents) with mode 0600; the parent is made 0700 when `private_dir`.
pub fn write_private(path: &Path, data: &[u8], private_dir: bool) -> std::io::Result<()> {
  if let Some(parent) = path.parent() {
    crate::store::file::create_dir(parent, private_dir)?;
  }
  let mut opts = std::fs::OpenOptions::new();
  opts.write(true).create(true).truncate(true);
  #[cfg(unix)]
  {
    use std::os::unix::fs::OpenOptionsExt;
    opts.mode(0o600);
  }
  let mut file = opts.open(path)?;
  file.write_all(data)?;
  #[cfg(unix)]
  {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
  }
  Ok(())
}

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

pub struct Identity {
  pub headers: Arc<Vec<(String, String)>>,
  pub device_id_path: PathBuf,
}

fn product_and_platform(profile: Profile) -> (&'static str, &'static str) {
  match profile {
    Profile::KimiCli => (c::KIMI_CLI_PRODUCT, c::KIMI_CLI_PLATFORM),
    _ => (c::KIMI_CODE_PRODUCT, c::KIMI_CODE_PLATFORM),
  }
}

/// Node's `process.platform` for this build (the form pi and opencode print).
fn node_platform() -> &'static str {
  match std::env::consts::OS {
    "macos" => "darwin",
    "windows" => "win32",
    other => other,
  }
}

/// `kimi-native/<version> (<platform>; <runtime>; <arch>)`; the runtime is left out when the
/// caller did not say (the Rust core cannot see which JS runtime loaded it).
pub fn native_product(runtime: Option<&str>) -> String {
  let mut comment = vec![node_platform()];
  if let Some(r) = runtime {
    comment.push(r);
  }
  comment.push(node_arch());
  format!("{}/{} ({})", c::NATIVE_PRODUCT, c::NATIVE_VERSION, comment.join("; "))
}

/// The native User-Agent: the host's product token first, then kimi-native's. When the host's
/// request already carries the host's own User-Agent (opencode: `opencode/1.18.33 ai-sdk/… runtime/…`),
/// that string is kept exactly as the host sent it, so nothing the host says about itself is lost.
pub fn native_user_agent(host: Option<&str>, runtime: Option<&str>, incoming: Option<&str>) -> String {
  let ours = native_product(runtime);
  let Some(host) = host else { return ours };
  let incoming = incoming.map(str::trim).filter(|ua| {
    ua.chars().all(|ch| (' '..='~').contains(&ch))
      && ua.strip_prefix(host).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
      // Already composed (a host that passes our fetch's output back in): not doubled.
      && !ua.contains(&format!(" {}/", c::NATIVE_PRODUCT))
  });
  format!("{} {ours}", incoming.unwrap_or(host))
}

/// The identity headers, in kimi-code's order, built from injectable host facts: 7 for the
/// official profiles, the User-Agent alone for `native` (pi and opencode send no `X-Msh-*`).
pub fn headers_for(profile: Profile, version: &str, host: &HostInfo, device_id: &str) -> Vec<(String, String)> {
  let clean: fn(&str) -> String = match profile {
    Profile::Native => return vec![(c::HEADER_USER_AGENT.into(), native_product(None))],
    Profile::KimiCode => sanitize_kimi_code,
    Profile::KimiCli => sanitize_kimi_cli,
  };
  let (product, platform) = product_and_platform(profile);
  vec![
    (c::HEADER_USER_AGENT.into(), format!("{product}/{}", clean(version))),
    (c::HEADER_PLATFORM.into(), platform.into()),
    (c::HEADER_VERSION.into(), clean(version)),
    (c::HEADER_DEVICE_NAME.into(), clean(&host.hostname)),
    (c::HEADER_DEVICE_MODEL.into(), clean(&device_model(profile, host))),
    (c::HEADER_OS_VERSION.into(), clean(&os_version(profile, host))),
    (c::HEADER_DEVICE_ID.into(), clean(device_id)),
  ]
}

/// Headers for these settings. Official profiles are cached per (profile, version, device-id
/// file) so the hot path (every fetch) costs a map lookup, not a file read; the native UA is a
/// cheap format with nothing to read.
pub fn identity(settings: &Settings) -> Identity {
  request_identity(settings, None)
}

/// As [`identity`], for a request that arrived with the host's own `User-Agent` (`incoming`).
pub fn request_identity(settings: &Settings, incoming_ua: Option<&str>) -> Identity {
  type Cache = Mutex<std::collections::HashMap<(Profile, String, PathBuf), Arc<Vec<(String, String)>>>>;
  static CACHE: OnceLock<Cache> = OnceLock::new();
  let path = device_id_path(settings);
  if settings.profile == Profile::Native {
    let ua = native_user_agent(settings.host.as_deref(), settings.runtime.as_deref(), incoming_ua);
    return Identity {
      headers: Arc::new(vec![(c::HEADER_USER_AGENT.into(), ua)]),
      device_id_path: path,
    };
  }
  let key = (settings.profile, settings.version.clone(), path.clone());
  let cache = CACHE.get_or_init(Default::default);
  if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
    return Identity {
      headers: hit.clone(),
      device_id_path: path,
    };
  }
  let id = device_id(settings.profile, &path);
  let headers = Arc::new(headers_for(
    settings.profile,
    &settings.version,
    &HostInfo::current(),
    &id,
  ));
  cache
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .insert(key, headers.clone());
  Identity {
    headers,
    device_id_path: path,
  }
}

/// Non-chat API calls made by the core itself (docs/kimi-wire.md §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
  Models,
  Usages,
}

/// The headers of a core-made API call, in the order each profile's client sends them
/// (`Authorization` included). kimi-cli lists models and usage with a bare aiohttp session
/// (golden py-login-refresh-models.jsonl); kimi-code sends its identity on /models only.
pub fn api_headers(settings: &Settings, endpoint: Endpoint, token: &str) -> Vec<(String, String)> {
  let bearer = (String::from("Authorization"), format!("Bearer {token}"));
  let accept_json = (String::from("Accept"), String::from("application/json"));
  match (settings.profile, endpoint) {
    (Profile::Native, _) => {
      let mut h = identity(settings).headers.as_ref().clone();
      h.extend([bearer, accept_json]);
      h
    }
    (Profile::KimiCode, Endpoint::Models) => {
      let mut h = identity(settings).headers.as_ref().clone();
      h.extend([bearer, accept_json]);
      h
    }
    (Profile::KimiCode, Endpoint::Usages) => vec![bearer, accept_json],
    (Profile::KimiCli, _) => vec![
      bearer,
      ("Accept".into(), "*/*".into()),
      (c::HEADER_USER_AGENT.into(), c::KIMI_CLI_OAUTH_USER_AGENT.into()),
    ],
  }
}

/// A GET of `{base}/models` or `{base}/usages` with the profile's headers.
pub fn api_request(
  settings: &Settings,
  http: &reqwest::Client,
  endpoint: Endpoint,
  token: &str,
) -> reqwest::RequestBuilder {
  let path = match endpoint {
    Endpoint::Models => "models",
    Endpoint::Usages => "usages",
  };
  let mut req = http.get(format!("{}/{path}", settings.base_url));
  for (k, v) in api_headers(settings, endpoint, token) {
    req = req.header(k, v);
  }
  req
}

/// Headers of the OAuth requests (device authorization, polls, refresh), docs/kimi-wire.md §1.
pub fn oauth_headers(settings: &Settings) -> Vec<(String, String)> {
  let ident = identity(settings);
  let form = (
    String::from("Content-Type"),
    String::from("application/x-www-form-urlencoded"),
  );
  let mut headers: Vec<(String, String)> = Vec::with_capacity(9);
  match settings.profile {
    Profile::Native | Profile::KimiCode => {
      headers.extend(ident.headers.iter().cloned());
      headers.push(form);
      headers.push(("Accept".into(), "application/json".into()));
    }
    Profile::KimiCli => {
      headers.extend(ident.headers.iter().filter(|(k, _)| k != c::HEADER_USER_AGENT).cloned());
      headers.push(("Accept".into(), "*/*".into()));
      headers.push((c::HEADER_USER_AGENT.into(), c::KIMI_CLI_OAUTH_USER_AGENT.into()));
      headers.push(form);
    }
  }
  headers
}

/// The warning every process that presents an official client's identity shows once.
pub fn official_warning(settings: &Settings) -> Option<String> {
  let client = match settings.profile {
    Profile::Native => return None,
    Profile::KimiCode => format!("kimi-code {}", settings.version),
    Profile::KimiCli => format!("kimi-cli {}", settings.version),
  };
  Some(format!(
    "kimi-native profile \"{}\" ({}): requests claim to come from Moonshot's official {client} client. \
     Kimi's Community Guidelines forbid falsifying client identity and accounts that did so have been \
     suspended (403 \"Access terminated\"): {}. Use the default profile \"native\" (unset KIMI_NATIVE_PROFILE, \
     drop --profile) unless you accept that risk to your subscription.",
    settings.profile.as_str(),
    settings.profile_source.describe(),
    c::COMMUNITY_GUIDELINES_URL
  ))
}

/// [`official_warning`] the first time this process uses an official profile, `None` after.
pub fn take_warning(settings: &Settings) -> Option<String> {
  static SHOWN: AtomicBool = AtomicBool::new(false);
  let warning = official_warning(settings)?;
  (!SHOWN.swap(true, Ordering::AcqRel)).then_some(warning)
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

#[cfg(test)]
mod tests {
  use super::*;

  fn linux() -> HostInfo {
    HostInfo {
      os_type: "Linux".into(),
      release: "6.18.44-fc-v657".into(),
      kernel_version: "#1 SMP PREEMPT_DYNAMIC @0".into(),
      machine: "x86_64".into(),
      node_arch: "x64".into(),
      hostname: "vm".into(),
      macos_product_version: None,
      windows_build: None,
    }
  }

  #[test]
  fn kimi_code_headers_match_golden_capture() {
    // golden/ts-login.jsonl, first request
    let h = headers_for(
      Profile::KimiCode,
      "2.1.0",
      &linux(),
      "9edff5d6-124d-4f90-b97b-8daa92682eae",
    );
    let expect = [
      ("User-Agent", "kimi-code-cli/2.1.0"),
      ("X-Msh-Platform", "kimi_code_cli"),
      ("X-Msh-Version", "2.1.0"),
      ("X-Msh-Device-Name", "vm"),
      ("X-Msh-Device-Model", "Linux 6.18.44-fc-v657 x64"),
      ("X-Msh-Os-Version", "6.18.44-fc-v657"),
      ("X-Msh-Device-Id", "9edff5d6-124d-4f90-b97b-8daa92682eae"),
    ];
    assert_eq!(h, expect.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
  }

  #[test]
  fn kimi_cli_headers_match_golden_capture() {
    let h = headers_for(Profile::KimiCli, "1.52.0", &linux(), "1d80d12e977342bf91d6308ef0d42ae2");
    assert_eq!(h[0].1, "KimiCLI/1.52.0");
    assert_eq!(h[1].1, "kimi_cli");
    assert_eq!(h[4].1, "Linux 6.18.44-fc-v657 x86_64");
    assert_eq!(h[5].1, "#1 SMP PREEMPT_DYNAMIC @0");
  }

  #[test]
  fn macos_and_windows_forms() {
    let mac = HostInfo {
      os_type: "Darwin".into(),
      release: "24.1.0".into(),
      kernel_version: "Darwin Kernel Version 24.1.0".into(),
      machine: "arm64".into(),
      node_arch: "arm64".into(),
      macos_product_version: Some("15.1.1".into()),
      ..linux()
    };
    assert_eq!(device_model(Profile::KimiCode, &mac), "macOS 15.1.1 arm64");
    assert_eq!(device_model(Profile::KimiCli, &mac), "macOS 15.1.1 arm64");
    assert_eq!(os_version(Profile::KimiCode, &mac), "24.1.0");
    let win = HostInfo {
      os_type: "Windows_NT".into(),
      release: "10.0.26100".into(),
      kernel_version: "10.0.26100".into(),
      machine: "AMD64".into(),
      node_arch: "x64".into(),
      windows_build: Some(26100),
      ..linux()
    };
    assert_eq!(device_model(Profile::KimiCode, &win), "Windows 10.0.26100 x64");
    assert_eq!(device_model(Profile::KimiCli, &win), "Windows 11 AMD64");
    let win10 = HostInfo {
      windows_build: Some(19045),
      release: "10.0.19045".into(),
      ..win
    };
    assert_eq!(device_model(Profile::KimiCli, &win10), "Windows 10 AMD64");
  }

  #[test]
  fn sanitising_follows_each_client() {
    // MoonshotAI/kimi-cli tests/auth/test_ascii_header.py
    assert_eq!(sanitize_kimi_cli("6.8.0-101\n"), "6.8.0-101");
    assert_eq!(sanitize_kimi_cli("héllo"), "hllo");
    assert_eq!(sanitize_kimi_cli("你好"), "unknown");
    assert_eq!(sanitize_kimi_cli("a\x01b"), "a\x01b");
    assert_eq!(sanitize_kimi_cli(""), "");
    assert_eq!(sanitize_kimi_code("6.8.0-101\n"), "6.8.0-101");
    assert_eq!(sanitize_kimi_code("héllo"), "hllo");
    assert_eq!(sanitize_kimi_code("你好"), "unknown");
    assert_eq!(sanitize_kimi_code("a\x01b"), "ab");
    assert_eq!(sanitize_kimi_code(""), "unknown");
  }

  #[test]
  fn device_id_files() {
    let dir = tempfile::tempdir().unwrap();
    let code_path = dir.path().join("code-home/device_id");
    let id = device_id(Profile::KimiCode, &code_path);
    assert_eq!(id.len(), 36);
    assert_eq!(std::fs::read_to_string(&code_path).unwrap(), id);
    assert_eq!(device_id(Profile::KimiCode, &code_path), id, "reused");
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      assert_eq!(
        std::fs::metadata(&code_path).unwrap().permissions().mode() & 0o777,
        0o600
      );
      assert_eq!(
        std::fs::metadata(code_path.parent().unwrap())
          .unwrap()
          .permissions()
          .mode()
          & 0o777,
        0o700
      );
    }
    std::fs::write(&code_path, "  \n").unwrap();
    let regenerated = device_id(Profile::KimiCode, &code_path);
    assert_eq!(regenerated.len(), 36, "kimi-code regenerates an empty file");

    let cli_path = dir.path().join("share/device_id");
    let id = device_id(Profile::KimiCli, &cli_path);
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    std::fs::write(&cli_path, "").unwrap();
    assert_eq!(
      device_id(Profile::KimiCli, &cli_path),
      "",
      "kimi-cli returns an empty file as-is"
    );
    std::fs::write(&cli_path, "abc\n").unwrap();
    assert_eq!(device_id(Profile::KimiCli, &cli_path), "abc");
  }

  /// Settings whose official homes are under `dir` (a device-id file may be written there).
  fn settings_in(dir: &Path, profile: Option<&str>, host: Option<&str>, runtime: Option<&str>) -> Settings {
    let d = dir.to_path_buf();
    let env = move |k: &str| match k {
      "KIMI_NATIVE_HOME" => Some(d.join("native").display().to_string()),
      "KIMI_CODE_HOME" => Some(d.join("code").display().to_string()),
      "KIMI_SHARE_DIR" => Some(d.join("share").display().to_string()),
      _ => None,
    };
    let opts = crate::config::Options {
      profile: profile.map(String::from),
      host: host.map(String::from),
      runtime: runtime.map(String::from),
      ..Default::default()
    };
    Settings::resolve_with(&opts, &env).unwrap()
  }

  #[test]
  fn native_user_agent_names_the_host_then_kimi_native() {
    let arch = node_arch();
    let plat = node_platform();
    let v = c::NATIVE_VERSION;
    assert_eq!(
      native_user_agent(Some("pi/1.6.0"), Some("node/v22.23.3"), None),
      format!("pi/1.6.0 kimi-native/{v} ({plat}; node/v22.23.3; {arch})")
    );
    assert_eq!(
      native_user_agent(None, None, None),
      format!("kimi-native/{v} ({plat}; {arch})")
    );
    // opencode's own UA on its request is kept exactly, first.
    let oc = "opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14";
    assert_eq!(
      native_user_agent(Some("opencode/1.18.33"), Some("bun/1.3.14"), Some(oc)),
      format!("{oc} kimi-native/{v} ({plat}; bun/1.3.14; {arch})")
    );
    // Someone else's UA (an SDK default) is not the host's: the host token is used.
    assert_eq!(
      native_user_agent(Some("opencode/1.18.33"), None, Some("OpenAI/JS 7.15.0")),
      format!("opencode/1.18.33 kimi-native/{v} ({plat}; {arch})")
    );
    assert_eq!(
      native_user_agent(Some("pi/1.6.0"), None, Some("pi/1.6.0x")),
      format!("pi/1.6.0 kimi-native/{v} ({plat}; {arch})"),
      "a longer token is not the host's"
    );
    let composed = native_user_agent(Some("pi/1.6.0"), None, None);
    assert_eq!(
      native_user_agent(Some("pi/1.6.0"), None, Some(&composed)),
      composed,
      "not doubled"
    );
  }

  #[test]
  fn native_profile_sends_no_official_headers_and_no_device_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device_id");
    assert_eq!(device_id(Profile::Native, &path), "");
    assert!(!path.exists(), "no device-id file written");
    let s = settings_in(dir.path(), None, Some("pi/1.6.0"), Some("node/v22.23.3"));
    let h = identity(&s).headers;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].0, "User-Agent");
    assert!(h[0].1.starts_with("pi/1.6.0 kimi-native/"), "{}", h[0].1);
    for profile in [None, Some("native")] {
      let s = settings_in(dir.path(), profile, None, None);
      let all: Vec<_> = oauth_headers(&s)
        .into_iter()
        .chain(api_headers(&s, Endpoint::Models, "t"))
        .chain(api_headers(&s, Endpoint::Usages, "t"))
        .collect();
      for (k, v) in &all {
        assert!(!k.to_ascii_lowercase().starts_with("x-msh-"), "{k}");
        for bad in ["kimi-code-cli/", "KimiCLI/", "kimi_code_cli", "kimi_cli"] {
          assert!(!v.contains(bad), "{k}: {v}");
        }
      }
      assert!(official_warning(&s).is_none());
      let r = report(&s);
      assert!(r.device_id.is_none() && r.platform.is_none() && r.warning.is_none());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
  }

  #[test]
  fn official_profiles_keep_their_headers_and_warn() {
    let dir = tempfile::tempdir().unwrap();
    let code = settings_in(dir.path(), Some("kimi-code"), Some("pi/1.6.0"), None);
    let models = api_headers(&code, Endpoint::Models, "t");
    assert_eq!(models[0], ("User-Agent".into(), "kimi-code-cli/2.1.0".into()));
    assert_eq!(models.len(), 9);
    assert_eq!(
      api_headers(&code, Endpoint::Usages, "t"),
      vec![
        ("Authorization".to_string(), "Bearer t".to_string()),
        ("Accept".into(), "application/json".into())
      ]
    );
    // golden py-login-refresh-models.jsonl: kimi-cli's /models is a bare aiohttp request.
    let cli = settings_in(dir.path(), Some("kimi-cli"), None, None);
    assert_eq!(
      api_headers(&cli, Endpoint::Models, "t"),
      vec![
        ("Authorization".to_string(), "Bearer t".to_string()),
        ("Accept".into(), "*/*".into()),
        ("User-Agent".into(), "Python/3.13 aiohttp/3.13.3".into())
      ]
    );
    let w = official_warning(&code).unwrap();
    assert!(
      w.contains("kimi-code 2.1.0") && w.contains("Community Guidelines") && w.contains("native"),
      "{w}"
    );
    assert!(report(&code).warning.is_some());
  }
}
