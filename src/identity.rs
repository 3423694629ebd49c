//! The identity headers of the official clients (kimi-wire §4, §5), reproduced per profile:
//! value formats, ASCII sanitising and device-id file semantics exactly as each client does.

use crate::config::{Profile, Settings};
use crate::constants as c;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
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
  if let Ok(existing) = std::fs::read_to_string(path) {
    match profile {
      Profile::KimiCli => return existing.trim().to_string(),
      Profile::KimiCode if !existing.trim().is_empty() => return existing.trim().to_string(),
      Profile::KimiCode => {}
    }
  }
  let id = match profile {
    Profile::KimiCode => uuid::Uuid::new_v4().hyphenated().to_string(),
    Profile::KimiCli => uuid::Uuid::new_v4().simple().to_string(),
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
  pub platform: String,
  pub device_name: ValueSource,
  pub device_model: ValueSource,
  pub os_version: ValueSource,
  pub device_id: ValueSource,
  pub headers: Vec<(String, String)>,
}

pub struct Identity {
  pub headers: Arc<Vec<(String, String)>>,
  pub device_id_path: PathBuf,
}

fn product_and_platform(profile: Profile) -> (&'static str, &'static str) {
  match profile {
    Profile::KimiCode => (c::KIMI_CODE_PRODUCT, c::KIMI_CODE_PLATFORM),
    Profile::KimiCli => (c::KIMI_CLI_PRODUCT, c::KIMI_CLI_PLATFORM),
  }
}

/// The 7 identity headers in kimi-code's order, built from injectable host facts.
pub fn headers_for(profile: Profile, version: &str, host: &HostInfo, device_id: &str) -> Vec<(String, String)> {
  let clean: fn(&str) -> String = match profile {
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

/// Headers for these settings, cached per (profile, version, device-id file) so the hot
/// path (every fetch) costs a map lookup, not a file read.
pub fn identity(settings: &Settings) -> Identity {
  type Cache = Mutex<std::collections::HashMap<(Profile, String, PathBuf), Arc<Vec<(String, String)>>>>;
  static CACHE: OnceLock<Cache> = OnceLock::new();
  let path = device_id_path(settings);
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
  let host_src = |what: &str| ValueSource {
    value: get(what),
    source: "host".into(),
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
    platform: get(c::HEADER_PLATFORM),
    device_name: host_src(c::HEADER_DEVICE_NAME),
    device_model: host_src(c::HEADER_DEVICE_MODEL),
    os_version: host_src(c::HEADER_OS_VERSION),
    device_id: ValueSource {
      value: get(c::HEADER_DEVICE_ID),
      source: format!("file:{}", ident.device_id_path.display()),
    },
    headers: ident.headers.as_ref().clone(),
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
}
