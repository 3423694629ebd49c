//! The 0600 JSON file store: `<home>/credentials/<slot>.json` in a 0700 directory, written
//! atomically (temp file in the same directory, fsync, rename). A corrupt file is reported,
//! never silently replaced: it is moved aside (kept) the next time a login is saved.

use super::Backend;
use crate::config::Settings;
use crate::error::{KimiError, Result};
use crate::token::StoredLogin;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileStore {
  path: PathBuf,
}

/// Creates a directory tree; the last component gets 0700 when `private`.
pub fn create_dir(dir: &Path, private: bool) -> std::io::Result<()> {
  std::fs::create_dir_all(dir)?;
  #[cfg(unix)]
  if private {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
  }
  #[cfg(not(unix))]
  let _ = private;
  Ok(())
}

/// Atomic 0600 write of one of kimi-native's own files: the directory is made 0700.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
  write_private(path, data, true)
}

/// Atomic 0600 write: temp file next to the target, fsync, rename over it. The directory is
/// created when missing and made 0700 only when `private_dir` (an official client's home keeps
/// the mode that client gives it).
pub fn write_private(path: &Path, data: &[u8], private_dir: bool) -> std::io::Result<()> {
  let dir = path.parent().unwrap_or_else(|| Path::new("."));
  create_dir(dir, private_dir)?;
  let tmp = dir.join(format!(
    ".{}.tmp.{}.{:08x}",
    path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
    std::process::id(),
    rand_u32()
  ));
  let result = (|| {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
      use std::os::unix::fs::OpenOptionsExt;
      opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
  })();
  if result.is_err() {
    let _ = std::fs::remove_file(&tmp);
  }
  result
}

fn rand_u32() -> u32 {
  let b = uuid::Uuid::new_v4().into_bytes();
  u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl FileStore {
  pub fn new(settings: &Settings) -> Self {
    FileStore {
      path: settings
        .home
        .join("credentials")
        .join(format!("{}.json", settings.slot())),
    }
  }

  pub fn at(path: PathBuf) -> Self {
    FileStore { path }
  }

  pub fn path(&self) -> &Path {
    &self.path
  }

  fn corrupt(&self, detail: &str) -> KimiError {
    KimiError::store(format!(
      "The credentials file {} is unreadable ({detail}). It was left untouched; run `npx kimi-native login` to sign in again (the old file is then kept as *.corrupt-<time>).",
      self.path.display()
    ))
  }
}

impl Backend for FileStore {
  fn kind(&self) -> &'static str {
    "file"
  }

  fn load(&self) -> Result<Option<StoredLogin>> {
    let bytes = match std::fs::read(&self.path) {
      Ok(b) => b,
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
      Err(e) => return Err(KimiError::store(format!("Cannot read {}: {e}.", self.path.display()))),
    };
    let value: serde_json::Value =
      serde_json::from_slice(&bytes).map_err(|e| self.corrupt(&format!("invalid JSON at line {}", e.line())))?;
    if !value.is_object() {
      return Err(self.corrupt("not a JSON object"));
    }
    let login: StoredLogin = serde_json::from_value(value).map_err(|_| self.corrupt("fields have the wrong types"))?;
    if login.refresh_token.is_empty() && login.access_token.is_empty() {
      return Err(self.corrupt("no token in it"));
    }
    Ok(Some(login))
  }

  fn save(&self, login: &StoredLogin) -> Result<()> {
    if self.path.exists() && self.load().is_err() {
      let aside = self
        .path
        .with_extension(format!("json.corrupt-{}", crate::token::now_secs() as u64));
      let _ = std::fs::rename(&self.path, aside);
    }
    let mut data = serde_json::to_vec_pretty(login).map_err(|e| KimiError::internal(e.to_string()))?;
    data.push(b'\n');
    write_atomic(&self.path, &data).map_err(|e| {
      KimiError::store(format!(
        "Cannot write {}: {e}. Check the directory's permissions.",
        self.path.display()
      ))
    })
  }

  fn delete(&self) -> Result<bool> {
    match std::fs::remove_file(&self.path) {
      Ok(()) => Ok(true),
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
      Err(e) => Err(KimiError::store(format!("Cannot remove {}: {e}.", self.path.display()))),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn login() -> StoredLogin {
    StoredLogin {
      access_token: "a".into(),
      refresh_token: "r".into(),
      expires_at: 5.0,
      expires_in: 900.0,
      ..Default::default()
    }
  }

  #[test]
  fn roundtrip_modes_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::at(dir.path().join("home/credentials/kimi-code.json"));
    assert_eq!(store.load().unwrap(), None);
    store.save(&login()).unwrap();
    assert_eq!(store.load().unwrap(), Some(login()));
    #[cfg(unix)]
    {
      use std::os::unix::fs::PermissionsExt;
      let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
      assert_eq!(mode(store.path()), 0o600);
      assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    }
    assert!(store.delete().unwrap());
    assert!(!store.delete().unwrap());
  }

  #[test]
  fn corrupt_file_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c/kimi-code.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    for bad in ["{\"access_token\": \"a", "[1,2]", "{\"access_token\": 5}", "{}"] {
      std::fs::write(&path, bad).unwrap();
      let err = FileStore::at(path.clone()).load().unwrap_err();
      assert_eq!(err.code, crate::error::Code::Store, "{bad}");
      assert!(err.message.contains("left untouched"));
      assert_eq!(std::fs::read_to_string(&path).unwrap(), bad, "nothing lost");
    }
    FileStore::at(path.clone()).save(&login()).unwrap();
    let kept: Vec<_> = std::fs::read_dir(path.parent().unwrap())
      .unwrap()
      .filter_map(|e| e.ok())
      .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
      .collect();
    assert_eq!(kept.len(), 1, "the corrupt file was moved aside, not deleted");
  }
}
