//! What this machine is, as the identity headers describe it: OS type, release, kernel build,
//! architecture, hostname (uname on Unix, `os_info` on Windows), the macOS product version, and
//! Node's names for the platform and architecture. Gathered once per process; injectable for tests.

use std::sync::OnceLock;

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

pub(super) fn node_arch() -> &'static str {
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
    let macos_product_version = macos_product_version();
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

/// Node's `process.platform` for this build (the form pi and opencode print).
pub(super) fn node_platform() -> &'static str {
  match std::env::consts::OS {
    "macos" => "darwin",
    "windows" => "win32",
    other => other,
  }
}

#[cfg(target_os = "macos")]
const SYSTEM_VERSION_PLIST: &str = "/System/Library/CoreServices/SystemVersion.plist";

/// The macOS product version ("15.1.1"), read from SystemVersion.plist with the `plist` crate
/// (which reads both the XML and the binary format).
#[cfg(target_os = "macos")]
fn macos_product_version() -> Option<String> {
  product_version(std::path::Path::new(SYSTEM_VERSION_PLIST))
}

#[cfg(not(target_os = "macos"))]
fn macos_product_version() -> Option<String> {
  None
}

#[cfg(target_os = "macos")]
fn product_version(path: &std::path::Path) -> Option<String> {
  let value = plist::Value::from_file(path).ok()?;
  let version = value.as_dictionary()?.get("ProductVersion")?.as_string()?.trim();
  (!version.is_empty()).then(|| version.to_string())
}

#[cfg(test)]
impl HostInfo {
  /// The Linux VM of the golden captures.
  pub(super) fn golden_linux() -> HostInfo {
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
}

#[cfg(all(test, target_os = "macos"))]
mod tests {
  use super::*;

  #[test]
  fn reads_xml_and_binary_plists() {
    let dir = tempfile::tempdir().unwrap();
    let mut dict = plist::Dictionary::new();
    dict.insert("ProductName".into(), plist::Value::String("macOS".into()));
    dict.insert("ProductVersion".into(), plist::Value::String("15.1.1".into()));
    let value = plist::Value::Dictionary(dict);
    let xml = dir.path().join("xml.plist");
    value.to_file_xml(&xml).unwrap();
    assert_eq!(product_version(&xml).as_deref(), Some("15.1.1"));
    let bin = dir.path().join("bin.plist");
    value.to_file_binary(&bin).unwrap();
    assert_eq!(product_version(&bin).as_deref(), Some("15.1.1"));
    assert_eq!(product_version(&dir.path().join("missing.plist")), None);
  }

  #[test]
  fn matches_sw_vers_on_this_mac() {
    let out = std::process::Command::new("sw_vers")
      .arg("-productVersion")
      .output()
      .unwrap();
    let want = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(macos_product_version(), Some(want));
  }
}
