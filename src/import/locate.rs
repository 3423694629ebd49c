//! Where each program keeps its logins: opencode-kimi-auth's file, opencode's and pi's
//! auth.json, and the official clients' credential files, from their own variables or the
//! home directory.

use super::opencode_kimi_auth;
use crate::config::{EnvSource, Settings};
use crate::constants::{self as c, env};
use std::path::{Path, PathBuf};

/// Where each program keeps its logins. Built from the environment through `EnvSource`.
#[derive(Debug, Clone, Default)]
pub struct Locations {
  pub opencode_kimi_auth: Option<PathBuf>,
  pub opencode_auth: Option<PathBuf>,
  pub pi_auth: Option<PathBuf>,
  pub kimi_code: Option<PathBuf>,
  pub kimi_cli: Option<PathBuf>,
}

impl Locations {
  pub fn resolve(settings: &Settings, env: &dyn EnvSource, home: Option<&Path>) -> Locations {
    let var = |name: &str| env.var(name).map(PathBuf::from);
    let under_home = |rel: &str| home.map(|h| h.join(rel));
    Locations {
      opencode_kimi_auth: under_home(opencode_kimi_auth::DIR).map(|d| d.join(opencode_kimi_auth::FILE)),
      // opencode 1.18 uses this on every platform (xdg-basedir), as the opencode adapter does.
      opencode_auth: var(env::XDG_DATA_HOME)
        .or_else(|| under_home(".local/share"))
        .map(|d| d.join("opencode").join("auth.json")),
      pi_auth: var(env::PI_CODING_AGENT_DIR)
        .or_else(|| under_home(".pi/agent"))
        .map(|d| d.join("auth.json")),
      kimi_code: var(env::KIMI_CODE_HOME)
        .or_else(|| under_home(c::KIMI_CODE_HOME_DIR))
        .map(|d| d.join("credentials").join(format!("{}.json", settings.slot()))),
      kimi_cli: var(env::KIMI_SHARE_DIR)
        .or_else(|| under_home(c::KIMI_CLI_HOME_DIR))
        .map(|d| d.join(c::OFFICIAL_CREDENTIALS_FILE)),
    }
  }

  pub fn from_process(settings: &Settings) -> Locations {
    Locations::resolve(
      settings,
      &crate::config::ProcessEnv,
      crate::config::home_dir().as_deref(),
    )
  }
}

#[cfg(test)]
mod tests {
  use super::super::tests::settings;
  use super::*;

  #[test]
  fn locations_follow_the_hosts_variables() {
    let s = settings(Path::new("/h"));
    let env = |k: &str| match k {
      "XDG_DATA_HOME" => Some("/xdg".to_string()),
      "PI_CODING_AGENT_DIR" => Some("/pi".to_string()),
      _ => None,
    };
    let l = Locations::resolve(&s, &env, Some(Path::new("/h")));
    assert_eq!(l.opencode_auth.unwrap(), Path::new("/xdg/opencode/auth.json"));
    assert_eq!(l.pi_auth.unwrap(), Path::new("/pi/auth.json"));
    assert_eq!(
      l.opencode_kimi_auth.unwrap(),
      Path::new("/h/.opencode-kimi-auth/oauth.json")
    );
    assert_eq!(l.kimi_cli.unwrap(), Path::new("/h/.kimi/credentials/kimi-code.json"));
    assert_eq!(
      l.kimi_code.unwrap(),
      Path::new("/h/.kimi-code/credentials/kimi-code.json")
    );
    let none = |_: &str| None;
    let l = Locations::resolve(&s, &none, Some(Path::new("/h")));
    assert_eq!(
      l.opencode_auth.unwrap(),
      Path::new("/h/.local/share/opencode/auth.json")
    );
    assert_eq!(l.pi_auth.unwrap(), Path::new("/h/.pi/agent/auth.json"));
  }
}
