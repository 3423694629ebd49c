//! Changing another program's file without losing anything: a 0600 backup first, then an
//! atomic rewrite (temp file in the same directory, fsync, rename, fsync of the directory) that
//! keeps every other entry, the key order, the file's permissions and its owner and group (an
//! import run under `sudo` must not leave the user's file owned by root). Symlinks are followed
//! so a dotfile link survives. Only the newest `HOST_FILE_BACKUPS_KEPT` backups of a file stay.

use crate::constants as c;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
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

/// (time, sequence) of a name `backup_name` made for `name`, newest sorting last.
fn backup_order(name: &str, candidate: &str) -> Option<(u64, u32)> {
  let rest = candidate.strip_prefix(name)?.strip_prefix(".bak-")?;
  let (stamp, seq) = match rest.split_once('-') {
    Some((s, n)) => (s, n.parse().ok()?),
    None => (rest, 1),
  };
  Some((stamp.parse().ok()?, seq))
}

/// Deletes all but the newest `keep` backups of `path` (only regular files named as
/// `backup_name` names them; anything else in the directory is left alone).
fn prune_backups(path: &Path, keep: usize) -> io::Result<()> {
  let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
  let dir = path.parent().unwrap_or_else(|| Path::new("."));
  let mut found: Vec<((u64, u32), PathBuf)> = fs::read_dir(dir)?
    .filter_map(|e| e.ok())
    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
    .filter_map(|e| {
      let order = backup_order(name, e.file_name().to_str()?)?;
      Some((order, e.path()))
    })
    .collect();
  found.sort();
  let excess = found.len().saturating_sub(keep);
  for (_, old) in found.into_iter().take(excess) {
    fs::remove_file(old)?;
  }
  Ok(())
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

/// Gives a file this process just created the owner and group of the file it stands for.
/// Only a change is attempted: an ordinary user's own files need none, and root (sudo) may.
#[cfg(unix)]
fn own_like(file: &fs::File, like: &fs::Metadata) -> io::Result<()> {
  use std::os::unix::fs::MetadataExt;
  let mine = file.metadata()?;
  if (mine.uid(), mine.gid()) == (like.uid(), like.gid()) {
    return Ok(());
  }
  std::os::unix::fs::fchown(file, Some(like.uid()), Some(like.gid())).map_err(|e| {
    io::Error::new(
      e.kind(),
      format!(
        "cannot give the new file the old one's owner {}:{} ({e})",
        like.uid(),
        like.gid()
      ),
    )
  })
}
#[cfg(not(unix))]
fn own_like(_: &fs::File, _: &fs::Metadata) -> io::Result<()> {
  Ok(())
}

/// Makes a rename or a new name in `dir` survive a crash (the file's own fsync does not).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
  fs::File::open(dir)?.sync_all()
}
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
  Ok(()) // Windows cannot open a directory as a file; NTFS journals the rename itself.
}

fn parent(path: &Path) -> &Path {
  path.parent().unwrap_or_else(|| Path::new("."))
}

/// The file a path really names (a dotfile manager's symlink is kept, its target changed).
pub fn real(path: &Path) -> io::Result<PathBuf> {
  fs::canonicalize(path)
}

/// Copies the file to `<file>.bak-<time>` with mode 0600 and the file's owner (it holds the old
/// tokens and, for a shared auth.json, other providers' credentials); older backups beyond
/// `HOST_FILE_BACKUPS_KEPT` are deleted.
pub fn backup(path: &Path) -> io::Result<PathBuf> {
  let meta = fs::metadata(path)?;
  let data = fs::read(path)?;
  let dest = backup_name(path);
  let written = (|| {
    let mut f = open_new(&dest, 0o600)?;
    own_like(&f, &meta)?;
    f.write_all(&data)?;
    f.sync_all()
  })();
  if let Err(e) = written {
    let _ = fs::remove_file(&dest);
    return Err(e);
  }
  sync_dir(parent(path))?;
  prune_backups(path, c::HOST_FILE_BACKUPS_KEPT)?;
  Ok(dest)
}

/// Renames the file to `<file>.bak-<time>` (mode 0600): its owner then finds no login.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
  let dest = backup_name(path);
  fs::rename(path, &dest)?;
  set_mode(&dest, 0o600)?;
  sync_dir(parent(path))?;
  prune_backups(path, c::HOST_FILE_BACKUPS_KEPT)?;
  Ok(dest)
}

/// Atomically replaces `path` with `data`, keeping its permissions, owner and group.
pub fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
  let meta = fs::metadata(path)?;
  write_via_temp(path, data, mode_of(&meta), &meta)
}

/// Writes a file that does not exist yet: 0600 (a host's settings file may come to hold keys),
/// owned like its directory, which is created if missing; existing directories keep their modes.
pub fn create(path: &Path, data: &[u8]) -> io::Result<()> {
  let dir = parent(path);
  fs::create_dir_all(dir)?;
  write_via_temp(path, data, 0o600, &fs::metadata(dir)?)
}

/// Temp file next to `path` (mode, owner and group of `like`), fsync, rename, fsync of the directory.
fn write_via_temp(path: &Path, data: &[u8], mode: u32, like: &fs::Metadata) -> io::Result<()> {
  let dir = parent(path);
  let tmp = dir.join(format!(
    ".{}.kimi-native-{}.tmp",
    path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
    std::process::id()
  ));
  let result = (|| {
    let mut f = open_new(&tmp, mode)?;
    own_like(&f, like)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
  })();
  if result.is_err() {
    let _ = fs::remove_file(&tmp);
  }
  result?;
  sync_dir(dir)
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

/// How a `DirLock` is taken and kept: the same rules as proper-lockfile, which pi uses.
#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
  /// How long to wait for a lock someone else holds.
  pub deadline: Duration,
  /// A lock whose mtime is older than this is abandoned (its holder died) and may be broken.
  pub stale: Duration,
  /// How often the holder sets the lock's mtime to now, so no other program finds it stale.
  pub update: Duration,
}

/// A proper-lockfile lock on `<file>` as pi takes it around every auth.json read-change-write:
/// the directory `<file>.lock` (mkdir is atomic). Its holder keeps the directory's mtime fresh
/// (a thread sets it every `update`) and knows the lock is still its own by that mtime: when the
/// mtime is not the one it last set, another program broke the lock (as abandoned) and took it,
/// and this one neither refreshes nor removes it any more.
pub struct DirLock {
  path: PathBuf,
  /// The mtime this holder last gave the directory; `None` once the lock was lost.
  mtime: Arc<Mutex<Option<SystemTime>>>,
  stop: Option<mpsc::Sender<()>>,
  keeper: Option<std::thread::JoinHandle<()>>,
}

fn dir_mtime(path: &Path) -> io::Result<SystemTime> {
  fs::metadata(path)?.modified()
}

/// Sets the lock's mtime to now and returns it as the file system stored it (its precision).
fn touch(path: &Path) -> io::Result<SystemTime> {
  let now = filetime::FileTime::now();
  filetime::set_file_times(path, now, now)?;
  dir_mtime(path)
}

impl DirLock {
  pub fn path_for(target: &Path) -> PathBuf {
    target.with_file_name(format!(
      "{}.lock",
      target.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ))
  }

  pub async fn acquire(target: &Path, timing: LockTiming) -> io::Result<DirLock> {
    let path = Self::path_for(target);
    let start = std::time::Instant::now();
    loop {
      match fs::create_dir(&path) {
        Ok(()) => match touch(&path) {
          Ok(mtime) => return Ok(DirLock::keep(path, mtime, timing.update)),
          Err(e) => {
            let _ = fs::remove_dir(&path);
            return Err(e);
          }
        },
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
          let age = dir_mtime(&path).ok().and_then(|t| t.elapsed().ok());
          if age.is_some_and(|a| a > timing.stale) {
            let _ = fs::remove_dir(&path);
            continue;
          }
        }
        Err(e) => return Err(e),
      }
      if start.elapsed() >= timing.deadline {
        return Err(io::Error::new(
          io::ErrorKind::WouldBlock,
          format!("{} is held by a running program", path.display()),
        ));
      }
      tokio::time::sleep(Duration::from_millis(100)).await;
    }
  }

  fn keep(path: PathBuf, mtime: SystemTime, update: Duration) -> DirLock {
    let mine = Arc::new(Mutex::new(Some(mtime)));
    let (stop, stopped) = mpsc::channel::<()>();
    let (p, m) = (path.clone(), mine.clone());
    let keeper = std::thread::Builder::new()
      .name("kimi-native-pi-lock".into())
      .spawn(move || {
        // Ends when the lock is dropped (the sender goes) or lost.
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(update) {
          let mut held = m.lock().unwrap_or_else(|e| e.into_inner());
          let still_ours = held.is_some() && dir_mtime(&p).ok() == *held;
          if !still_ours {
            *held = None;
            return;
          }
          match touch(&p) {
            Ok(t) => *held = Some(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
              *held = None;
              return;
            }
            Err(_) => {} // tried again next time, as proper-lockfile does
          }
        }
      })
      .ok();
    DirLock {
      path,
      mtime: mine,
      stop: Some(stop),
      keeper,
    }
  }

  /// Whether the lock directory is still this holder's (no one broke and re-took it).
  pub fn held(&self) -> bool {
    let held = self.mtime.lock().unwrap_or_else(|e| e.into_inner());
    held.is_some() && dir_mtime(&self.path).ok() == *held
  }
}

impl Drop for DirLock {
  fn drop(&mut self) {
    drop(self.stop.take());
    if let Some(k) = self.keeper.take() {
      let _ = k.join();
    }
    // Another program's lock (it found ours stale and took over) is not ours to remove.
    if self.held() {
      let _ = fs::remove_dir(&self.path);
    }
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

  fn timing(deadline_ms: u64, stale_ms: u64, update_ms: u64) -> LockTiming {
    LockTiming {
      deadline: Duration::from_millis(deadline_ms),
      stale: Duration::from_millis(stale_ms),
      update: Duration::from_millis(update_ms),
    }
  }

  #[tokio::test]
  async fn dir_lock_waits_and_breaks_stale_locks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    let held = DirLock::acquire(&p, timing(1000, 30_000, 10_000)).await.unwrap();
    assert!(dir.path().join("auth.json.lock").is_dir());
    let t = std::time::Instant::now();
    assert!(DirLock::acquire(&p, timing(250, 30_000, 10_000)).await.is_err());
    assert!(t.elapsed() >= Duration::from_millis(250));
    // A holder that died long ago (its mtime is not refreshed) does not block forever.
    let lock = dir.path().join("auth.json.lock");
    let old = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    filetime::set_file_times(&lock, old, old).unwrap();
    let second = DirLock::acquire(&p, timing(500, 10_000, 5_000)).await.unwrap();
    assert!(!held.held(), "the first holder knows it lost the lock");
    drop(held);
    assert!(lock.exists(), "the lost holder leaves the new holder's lock alone");
    assert!(second.held());
    drop(second);
    assert!(!lock.exists());
  }

  #[tokio::test]
  async fn dir_lock_keeps_its_mtime_fresh_while_held() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    let lock = DirLock::acquire(&p, timing(1000, 2_000, 100)).await.unwrap();
    let path = DirLock::path_for(&p);
    for _ in 0..8 {
      std::thread::sleep(Duration::from_millis(100));
      let age = dir_mtime(&path).unwrap().elapsed().unwrap_or_default();
      assert!(age < Duration::from_millis(400), "lock mtime {age:?} old");
    }
    assert!(lock.held());
    // Another program that finds it fresh does not break it.
    assert!(DirLock::acquire(&p, timing(300, 500, 100)).await.is_err());
    drop(lock);
    assert!(!path.exists());
  }

  #[tokio::test]
  async fn dir_lock_taken_over_by_another_program_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    let lock = DirLock::acquire(&p, timing(1000, 30_000, 50)).await.unwrap();
    let path = DirLock::path_for(&p);
    // What a proper-lockfile holder does with a lock it finds stale: rmdir, mkdir, its own mtime.
    fs::remove_dir(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let theirs = filetime::FileTime::from_unix_time(2_000_000_000, 5_000_000);
    filetime::set_file_times(&path, theirs, theirs).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!lock.held());
    drop(lock);
    assert!(path.is_dir(), "the other program's lock stays");
    assert_eq!(
      filetime::FileTime::from_last_modification_time(&fs::metadata(&path).unwrap()),
      theirs,
      "and is not refreshed by the old holder"
    );
  }

  #[test]
  fn backups_are_bounded_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    fs::write(&p, "{}").unwrap();
    // Older backups (earlier runs), a same-second one, and names that are not backups of this file.
    for name in [
      "auth.json.bak-100",
      "auth.json.bak-200",
      "auth.json.bak-200-2",
      "auth.json.bak-300",
      "auth.json.bak-notes",
      "other.json.bak-50",
    ] {
      fs::write(dir.path().join(name), "old").unwrap();
    }
    let newest = backup(&p).unwrap();
    let mut left: Vec<String> = fs::read_dir(dir.path())
      .unwrap()
      .map(|e| e.unwrap().file_name().into_string().unwrap())
      .filter(|n| n.contains(".bak-"))
      .collect();
    left.sort();
    let newest = newest.file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(c::HOST_FILE_BACKUPS_KEPT, 3);
    let mut want = vec![
      "auth.json.bak-200-2".to_string(),
      "auth.json.bak-300".into(),
      newest,
      "auth.json.bak-notes".into(),
      "other.json.bak-50".into(),
    ];
    want.sort();
    assert_eq!(left, want);
    // move_aside counts as a backup too.
    let q = dir.path().join("oauth.json");
    for i in 0..5 {
      fs::write(&q, format!("{i}")).unwrap();
      move_aside(&q).unwrap();
    }
    let kept = fs::read_dir(dir.path())
      .unwrap()
      .filter(|e| {
        e.as_ref()
          .unwrap()
          .file_name()
          .to_str()
          .unwrap()
          .starts_with("oauth.json.bak-")
      })
      .count();
    assert_eq!(kept, c::HOST_FILE_BACKUPS_KEPT);
  }

  /// An import under sudo: the user's file (another uid) keeps its owner, and so does its backup.
  #[cfg(unix)]
  #[test]
  fn rewrite_and_backup_keep_the_owner() {
    use std::os::unix::fs::MetadataExt;
    if unsafe { libc::geteuid() } != 0 {
      eprintln!("skipped: changing a file's owner needs root (run cargo test as root to check it)");
      return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.json");
    fs::write(&p, "{\"kimi\": 1, \"a\": 2}").unwrap();
    std::os::unix::fs::chown(&p, Some(4242), Some(4343)).unwrap();
    let bak = backup(&p).unwrap();
    edit_json(&p, |m| {
      m.shift_remove("kimi");
    })
    .unwrap();
    for f in [&p, &bak] {
      let m = fs::metadata(f).unwrap();
      assert_eq!((m.uid(), m.gid()), (4242, 4343), "{}", f.display());
    }
    assert_eq!(fs::read_to_string(&p).unwrap(), "{\n  \"a\": 2\n}");
  }
}
