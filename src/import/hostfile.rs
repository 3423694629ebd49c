//! Changing another program's file without losing anything: a 0600 backup first, then an
//! atomic rewrite (temp file in the same directory, fsync, rename) that keeps every other entry,
//! the key order and the file's permissions. Symlinks are followed so a dotfile link survives.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn now_secs() -> u64 {
  SystemTime::now()
    .duration_since(SystemTime::UNIX_EPOCH)
    .map(|d| d.as_secs())
    .unwrap_or(0)
}

/// `<file>.bak-<epoch seconds>`, with `-2`, `-3`… if that name is taken.
fn backup_name(path: &Path) -> PathBuf {
  let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
  let stamp = now_secs();
  let mut n = 1;
  loop {
    let candidate = if n == 1 {
      path.with_file_name(format!("{name}.bak-{stamp}"))
    } else {
      path.with_file_name(format!("{name}.bak-{stamp}-{n}"))
    };
    if fs::symlink_metadata(&candidate).is_err() {
      return candidate;
    }
    n += 1;
  }
}

fn open_new(path: &Path, mode: u32) -> io::Result<fs::File> {
  let mut opts = OpenOptions::new();
  opts.write(true).create_new(true);
  #[cfg(unix)]
  {
    use std::os::unix::fs::OpenOptionsExt;
    opts.mode(mode);
  }
  let f = opts.open(path)?;
  set_mode(path, mode)?; // the umask may have narrowed or the platform ignored it
  Ok(f)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
  use std::os::unix::fs::PermissionsExt;
  fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
  Ok(())
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
  use std::os::unix::fs::PermissionsExt;
  meta.permissions().mode() & 0o7777
}
#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> u32 {
  0o600
}

/// The file a path really names (a dotfile manager's symlink is kept, its target changed).
pub fn real(path: &Path) -> io::Result<PathBuf> {
  fs::canonicalize(path)
}

/// Copies the file to `<file>.bak-<time>` with mode 0600 (it holds the old tokens and, for a
/// shared auth.json, other providers' credentials).
pub fn backup(path: &Path) -> io::Result<PathBuf> {
  let data = fs::read(path)?;
  let dest = backup_name(path);
  let mut f = open_new(&dest, 0o600)?;
  f.write_all(&data)?;
  f.sync_all()?;
  Ok(dest)
}

/// Renames the file to `<file>.bak-<time>` (mode 0600): its owner then finds no login.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
  let dest = backup_name(path);
  fs::rename(path, &dest)?;
  set_mode(&dest, 0o600)?;
  Ok(dest)
}

/// Atomically replaces `path` with `data`, keeping its permissions.
pub fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
  write_via_temp(path, data, mode_of(&fs::metadata(path)?))
}

/// Writes a file that does not exist yet (0600: a host's settings file may come to hold keys),
/// creating its directory without changing the modes of directories that exist.
pub fn create(path: &Path, data: &[u8]) -> io::Result<()> {
  if let Some(dir) = path.parent() {
    fs::create_dir_all(dir)?;
  }
  write_via_temp(path, data, 0o600)
}

fn write_via_temp(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
  let dir = path.parent().unwrap_or_else(|| Path::new("."));
  let tmp = dir.join(format!(
    ".{}.kimi-native-{}.tmp",
    path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
    std::process::id()
  ));
  let result = (|| {
    let mut f = open_new(&tmp, mode)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
  })();
  if result.is_err() {
    let _ = fs::remove_file(&tmp);
  }
  result
}

/// Reads a JSON object file, lets `edit` change it, writes it back in the hosts' own format
/// (`JSON.stringify(data, null, 2)`, a trailing newline kept if there was one).
pub fn edit_json(
  path: &Path,
  edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Result<(), String> {
  let text = fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
  let mut map = super::parse::object(&text)?;
  edit(&mut map);
  let out = to_host_json(&map, text.ends_with('\n'));
  replace(path, out.as_bytes()).map_err(|e| format!("cannot write it: {e}"))
}

/// `JSON.stringify(map, null, 2)`, with a trailing newline when asked.
pub fn to_host_json(map: &serde_json::Map<String, serde_json::Value>, newline: bool) -> String {
  // Serialising a JSON value cannot fail (string keys only).
  let mut out = serde_json::to_string_pretty(map).unwrap_or_default();
  if newline {
    out.push('\n');
  }
  out
}

/// Fails early (before a refresh token is spent) when a file in `dir` cannot be created.
pub fn check_writable(dir: &Path) -> io::Result<()> {
  let probe = dir.join(format!(".kimi-native-probe-{}", std::process::id()));
  open_new(&probe, 0o600)?;
  fs::remove_file(&probe)
}

/// The lock pi takes around every auth.json read-refresh-write (proper-lockfile: a directory
/// `<file>.lock` whose mtime the holder keeps fresh; older than `stale` means its holder died).
pub struct DirLock {
  path: PathBuf,
}

impl DirLock {
  pub async fn acquire(target: &Path, deadline: Duration, stale: Duration) -> io::Result<DirLock> {
    let path = target.with_file_name(format!(
      "{}.lock",
      target.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let start = std::time::Instant::now();
    loop {
      match fs::create_dir(&path) {
        Ok(()) => return Ok(DirLock { path }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
          let age = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
          if age.is_some_and(|a| a > stale) {
            let _ = fs::remove_dir(&path);
            continue;
          }
        }
        Err(e) => return Err(e),
      }
      if start.elapsed() >= deadline {
        return Err(io::Error::new(
          io::ErrorKind::WouldBlock,
          format!("{} is held by a running program", path.display()),
        ));
      }
      tokio::time::sleep(Duration::from_millis(100)).await;
    }
  }
}

impl Drop for DirLock {
  fn drop(&mut self) {
    let _ = fs::remove_dir(&self.path);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[cfg(unix)]
  fn mode(p: &Path) -> u32 {
    mode_of(&fs::metadata(p).unwrap())
  }

  #[test]
  fn edit_keeps_other_entries_order_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    fs::write(
      &p,
      "{\n  \"b\": {\"k\": 1},\n  \"kimi\": {\"x\": 2},\n  \"a\": \"z\"\n}",
    )
    .unwrap();
    set_mode(&p, 0o640).unwrap();
    let bak = backup(&p).unwrap();
    edit_json(&p, |m| {
      m.shift_remove("kimi");
    })
    .unwrap();
    let text = fs::read_to_string(&p).unwrap();
    assert_eq!(text, "{\n  \"b\": {\n    \"k\": 1\n  },\n  \"a\": \"z\"\n}");
    assert!(fs::read_to_string(&bak).unwrap().contains("kimi"));
    assert!(bak.file_name().unwrap().to_str().unwrap().starts_with("auth.json.bak-"));
    #[cfg(unix)]
    {
      assert_eq!(mode(&p), 0o640, "the host file keeps its permissions");
      assert_eq!(mode(&bak), 0o600);
    }
    // A second backup in the same second gets its own name.
    assert_ne!(backup(&p).unwrap(), bak);
    let leftovers: Vec<_> = fs::read_dir(dir.path())
      .unwrap()
      .filter_map(|e| e.ok())
      .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
      .collect();
    assert!(leftovers.is_empty());
  }

  #[test]
  fn edit_refuses_a_broken_file_and_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    fs::write(&p, "{\"a\":").unwrap();
    assert!(edit_json(&p, |_| {}).unwrap_err().contains("not valid JSON"));
    assert_eq!(fs::read_to_string(&p).unwrap(), "{\"a\":");
  }

  #[test]
  fn move_aside_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("oauth.json");
    fs::write(&p, "{}").unwrap();
    let to = move_aside(&p).unwrap();
    assert!(!p.exists() && to.exists());
    #[cfg(unix)]
    assert_eq!(mode(&to), 0o600);
  }

  #[tokio::test]
  async fn dir_lock_waits_and_breaks_stale_locks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    let held = DirLock::acquire(&p, Duration::from_secs(1), Duration::from_secs(30))
      .await
      .unwrap();
    assert!(dir.path().join("auth.json.lock").is_dir());
    let t = std::time::Instant::now();
    assert!(
      DirLock::acquire(&p, Duration::from_millis(250), Duration::from_secs(30))
        .await
        .is_err()
    );
    assert!(t.elapsed() >= Duration::from_millis(250));
    // A holder that died long ago (its mtime is not refreshed) does not block forever.
    std::thread::sleep(Duration::from_millis(30));
    let second = DirLock::acquire(&p, Duration::from_millis(500), Duration::from_millis(10)).await;
    assert!(second.is_ok());
    std::mem::forget(held);
    drop(second);
    assert!(!dir.path().join("auth.json.lock").exists());
  }
}
