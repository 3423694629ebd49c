//! What an official profile says about the device, in the form each client says it: the device
//! model and OS version built from the host facts, and the device-id file that client keeps.

use super::HostInfo;
use crate::config::{Profile, Settings};
use crate::constants as c;
use std::path::{Path, PathBuf};

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
  let _ = crate::store::file::write_private(path, id.as_bytes(), profile == Profile::KimiCode);
  id
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn macos_and_windows_forms() {
    let mac = HostInfo {
      os_type: "Darwin".into(),
      release: "24.1.0".into(),
      kernel_version: "Darwin Kernel Version 24.1.0".into(),
      machine: "arm64".into(),
      node_arch: "arm64".into(),
      macos_product_version: Some("15.1.1".into()),
      ..HostInfo::golden_linux()
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
      ..HostInfo::golden_linux()
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
