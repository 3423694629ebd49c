//! Where a login lives: its storage slot (named as kimi-code names its credential files), the
//! locks and the keychain account derived from it, and whether kimi-cli's file is this login's.

use super::{home_dir, Settings};
use crate::constants as c;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

impl Settings {
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
}
