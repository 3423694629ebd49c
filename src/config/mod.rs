//! What every operation needs, resolved once per call: the [`Options`] a host passes (and the
//! choices they name), the [`Settings`] resolved from them, the environment and defaults, the
//! origin rule every credential path asks first, and where a login lives (slot, locks, keychain
//! account).

mod options;
mod origin;
mod settings;
mod slot;
mod url;

pub use options::{option_keys, Options, Profile, Region, StoreKind};
pub use origin::{is_kimi_origin, Role};
pub use settings::{home_dir, thinking_keep, EnvSource, ProcessEnv, Secret, Settings, Source};
pub use slot::slot_for;
pub use url::origin_of;

/// An environment of these pairs only, for tests.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
  let map: std::collections::HashMap<String, String> =
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
  move |k: &str| map.get(k).cloned()
}
