//! What a host may pass: the [`Options`] (the one list of option keys) and the choices some of
//! them name (profile, region, store), each parsed from its accepted spellings.

use crate::constants as c;
use crate::error::{KimiError, Result};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
  use super::*;

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
}
