//! Taking over a Kimi login another plugin holds, so a user who switches to kimi-native never
//! signs in again and the old plugin can no longer race kimi-native on one refresh chain (Kimi
//! rotates refresh tokens: two programs refreshing one chain log each other out).
//!
//! `scan` finds the sources and says which can be taken over (pure file reading). `import`
//! refreshes the chosen chain once under kimi-native's cross-process refresh lock (and pi's
//! auth.json lock for pi, taken after kimi-native's own and kept fresh while held), stores the
//! new pair in kimi-native's store, then hands the source
//! over: a 0600 backup and an atomic rewrite that leaves kimi-native's marker (or no entry), or
//! the plugin's own file moved aside. Since the old refresh token is spent by that refresh, an
//! old plugin that is still running fails its next refresh instead of forking the chain.
//! A refused refresh token changes nothing.
//!
//! `locate` says where each source lives, `scan` reads them and lists what can be taken over,
//! `takeover` does it; the per-source files (`opencode`, `pi`, …) know each format.

pub(crate) mod hostfile;
mod locate;
pub mod official;
pub mod opencode;
pub mod opencode_kimi_auth;
pub(crate) mod parse;
pub mod pi;
mod scan;
mod takeover;

pub use locate::Locations;
pub use scan::{list, Found};
pub use takeover::{import, HandedOver, Imported};

#[cfg(test)]
mod tests {
  use crate::config::{Options, Settings};
  use crate::constants::env;
  use std::path::{Path, PathBuf};

  pub(super) fn settings(home: &Path) -> Settings {
    let h = home.join("kn").display().to_string();
    let env = move |k: &str| (k == env::HOME).then(|| h.clone());
    Settings::resolve_with(&Options::default(), &env).unwrap()
  }

  pub(super) fn write(p: &Option<PathBuf>, text: &str) {
    let p = p.as_ref().unwrap();
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
  }
}
