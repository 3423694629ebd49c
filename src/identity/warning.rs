//! The warning of the official profiles: every process that presents an official client's
//! identity shows it once (the identity report carries it every time).

use crate::config::{Profile, Settings};
use crate::constants as c;
use std::sync::atomic::{AtomicBool, Ordering};

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
