//! The identity headers: the native User-Agent (the host's product token, then kimi-native's),
//! the seven headers of an official profile with each client's ASCII sanitising, and the headers
//! of the calls the core makes itself (OAuth, `/models`, `/usages`) in each client's order. An
//! official profile's set is built once per (profile, version, device-id file) and cached.

use super::device::{device_id, device_id_path, device_model, os_version};
use super::os::{node_arch, node_platform};
use super::HostInfo;
use crate::config::{Profile, Settings};
use crate::constants as c;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

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

fn product_and_platform(profile: Profile) -> (&'static str, &'static str) {
  match profile {
    Profile::KimiCli => (c::KIMI_CLI_PRODUCT, c::KIMI_CLI_PLATFORM),
    _ => (c::KIMI_CODE_PRODUCT, c::KIMI_CODE_PLATFORM),
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

pub struct Identity {
  pub headers: Arc<Vec<(String, String)>>,
  pub device_id_path: PathBuf,
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

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn kimi_code_headers_match_golden_capture() {
    // golden/ts-login.jsonl, first request
    let h = headers_for(
      Profile::KimiCode,
      "2.1.0",
      &HostInfo::golden_linux(),
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
    let h = headers_for(
      Profile::KimiCli,
      "1.52.0",
      &HostInfo::golden_linux(),
      "1d80d12e977342bf91d6308ef0d42ae2",
    );
    assert_eq!(h[0].1, "KimiCLI/1.52.0");
    assert_eq!(h[1].1, "kimi_cli");
    assert_eq!(h[4].1, "Linux 6.18.44-fc-v657 x86_64");
    assert_eq!(h[5].1, "#1 SMP PREEMPT_DYNAMIC @0");
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
}
