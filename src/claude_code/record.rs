//! kimi-native's record of what setup set in each file (values that are not secrets only),
//! kept in its home so `--remove` can undo exactly that.

use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};
use crate::import::hostfile;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A value worth keeping in the record: no key, no token-looking word, no URL credentials.
pub(super) fn shareable(v: &str) -> bool {
  !v.contains("sk-") && crate::error::redact(v) == v && !v.contains('@')
}

/// kimi-native's record of one file it set up: enough to undo exactly that.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct FileRecord {
  /// The file did not exist before setup.
  pub(super) created: bool,
  /// `env` did not exist before setup.
  pub(super) env_created: bool,
  pub(super) entries: Vec<RecordedEntry>,
  /// Static keys removed at the user's request (their values are only in the backup).
  pub(super) removed: Vec<String>,
  pub(super) backup: Option<String>,
  pub(super) at: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct RecordedEntry {
  pub(super) key: String,
  pub(super) value: String,
  /// The value before setup, when there was one and it is not a secret.
  pub(super) previous: Option<String>,
  /// There was a value before setup that looked like a secret: it is only in the backup.
  pub(super) previous_in_backup: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Record {
  pub(super) files: std::collections::BTreeMap<String, FileRecord>,
}

pub(super) fn record_path(settings: &Settings) -> PathBuf {
  settings.home.join(c::SETUP_RECORD_FILE)
}

pub(super) fn read_record(settings: &Settings) -> Record {
  std::fs::read_to_string(record_path(settings))
    .ok()
    .and_then(|t| serde_json::from_str(&t).ok())
    .unwrap_or_default()
}

pub(super) fn write_record(settings: &Settings, record: &Record) -> Result<()> {
  let text = serde_json::to_vec_pretty(record).map_err(|e| KimiError::internal(e.to_string()))?;
  crate::store::file::write_atomic(&record_path(settings), &text)
    .map_err(|e| KimiError::store(format!("Cannot write {}: {e}.", record_path(settings).display())))
}

/// The file's key for the record: its real path when it exists (a dotfile link is followed).
pub(super) fn record_key(path: &Path) -> String {
  hostfile::real(path)
    .unwrap_or_else(|_| path.to_path_buf())
    .display()
    .to_string()
}
