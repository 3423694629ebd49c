//! Who a request says it comes from. Default (`native`, docs/identity.md): the host's own product
//! token, then `kimi-native/<version> (<platform>; <runtime>; <arch>)`, and no official-client
//! headers or device-id file. Opt-in (`kimi-code`, `kimi-cli`): the identity headers of the
//! official clients (docs/kimi-wire.md §4, §5), value formats, ASCII sanitising and device-id file
//! semantics exactly as each client does — with a one-time warning per process.
//!
//! `os` gathers the machine's facts, `device` turns them (and the device-id file) into what an
//! official client says about the device, `headers` builds every header set, `warning` is the
//! once-per-process notice of the official profiles and `report` explains it all.

mod device;
mod headers;
mod os;
mod report;
mod warning;

pub use device::{device_id, device_id_path, device_model, os_version};
pub use headers::{
  api_headers, api_request, headers_for, identity, native_product, native_user_agent, oauth_headers, request_identity,
  sanitize_kimi_cli, sanitize_kimi_code, Endpoint, Identity,
};
pub use os::HostInfo;
pub use report::{report, IdentityReport, ValueSource};
pub use warning::{official_warning, take_warning};

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::{Profile, Settings};
  use std::path::Path;

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
