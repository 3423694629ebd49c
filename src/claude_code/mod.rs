//! `kimi-native setup claude-code` (issue #22): Claude Code's settings file gets an
//! `apiKeyHelper` that runs `kimi-native token`, the Anthropic base of the configured API, the
//! account's models and the helper TTL, merged into what is there. Every other key is kept,
//! the file is backed up first (0600) and rewritten atomically with its permissions, a file
//! that is not a JSON object is refused untouched, and what was set is recorded in kimi-native's
//! home (values that are not secrets only) so `--remove` can undo exactly that.
//!
//! Keys (Claude Code 2.1.332, read from its binary and docs; docs/claude-code.md): `apiKeyHelper`
//! (a `/bin/sh` command whose stdout is sent as `x-api-key` and as bearer), and in `env`:
//! `ANTHROPIC_BASE_URL`, `ANTHROPIC_MODEL`, the model of each alias (`ANTHROPIC_DEFAULT_*_MODEL`,
//! which replaced `ANTHROPIC_SMALL_FAST_MODEL`), `CLAUDE_CODE_MAX_CONTEXT_TOKENS` (the window of
//! a model it does not know) and `CLAUDE_CODE_API_KEY_HELPER_TTL_MS`.
//!
//! `desired` is what setup writes, `file` reads and writes the settings JSON, `plan` says what
//! would change, `apply` changes (and undoes) it with `record` keeping what it did, and
//! `configured` finds the files already set up.

mod apply;
mod configured;
mod desired;
mod file;
mod plan;
mod record;

pub use apply::{apply, remove, Outcome};
pub use configured::{configured, is_kimi_native_helper, Configured};
pub use desired::{desired, Entry};
pub use plan::{plan, Change, Conflict, Plan};

use crate::config::EnvSource;
use crate::constants::{self as c, env};
use crate::error::{KimiError, Result};
use std::path::{Path, PathBuf};

/// Which settings file: the user's, or a project's personal one (not committed).
#[derive(Debug, Clone)]
pub enum Scope {
  User,
  Project(PathBuf),
}

/// Where Claude Code keeps its user settings (`CLAUDE_CONFIG_DIR`, else `~/.claude`).
#[derive(Debug, Clone, Default)]
pub struct Paths {
  pub config_dir: Option<PathBuf>,
}

impl Paths {
  pub fn resolve(env_source: &dyn EnvSource, home: Option<&Path>) -> Paths {
    let config_dir = env_source
      .var(env::CLAUDE_CONFIG_DIR)
      .map(PathBuf::from)
      .or_else(|| home.map(|h| h.join(c::CLAUDE_CODE_DIR)));
    Paths { config_dir }
  }

  pub fn from_process() -> Paths {
    Paths::resolve(&crate::config::ProcessEnv, crate::config::home_dir().as_deref())
  }

  pub fn settings_file(&self, scope: &Scope) -> Result<PathBuf> {
    match scope {
      Scope::User => self
        .config_dir
        .as_ref()
        .map(|d| d.join(c::CLAUDE_CODE_SETTINGS_FILE))
        .ok_or_else(|| KimiError::bad_input("No home directory found: set CLAUDE_CONFIG_DIR.")),
      Scope::Project(dir) => Ok(dir.join(c::CLAUDE_CODE_DIR).join(c::CLAUDE_CODE_LOCAL_SETTINGS_FILE)),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::{Options, Settings};

  // A checkout's path need not name kimi-native: status recognises it through the record.
  pub(super) const HELPER: &str = "'/usr/bin/node' '/src/checkout/lib/cli.js' token --caller \"$PPID\"";

  pub(super) fn setup() -> (tempfile::TempDir, Settings, Paths) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("kn");
    let opts = Options {
      home: Some(home.to_string_lossy().into_owned()),
      base_url: Some("http://127.0.0.1:9/coding/v1".into()),
      ..Default::default()
    };
    let settings = Settings::resolve_with(&opts, &|_: &str| None).unwrap();
    let paths = Paths {
      config_dir: Some(dir.path().join("claude")),
    };
    (dir, settings, paths)
  }

  pub(super) fn no_env(_: &str) -> Option<String> {
    None
  }
}
