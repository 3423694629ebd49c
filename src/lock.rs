//! Cross-process refresh lock: an OS file lock (flock / LockFileEx via std) on
//! `<home>/locks/<slot>.lock`. Taken without blocking a thread (try-lock + async sleep) and
//! under a deadline, so a stuck peer cannot hang a host forever. Fail-closed like kimi-code:
//! refreshing without the lock could burn a rotated refresh token another process holds.
//! The OS releases the lock when its holder exits, however it exits. The holder writes its pid
//! into a separate `<slot>.pid` file so a waiter can say which process it is waiting for: on
//! Windows the lock is mandatory (LockFileEx), so nobody but the holder's handle can read the
//! locked file itself.

use crate::error::{Code, KimiError, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a writer of a login (a refresh, a login, an import) waits for another process
/// holding the refresh lock (kimi-code: ~90 s).
pub const REFRESH_LOCK_DEADLINE: Duration = Duration::from_secs(90);

pub struct FileLock {
  file: File,
  path: PathBuf,
  pid_path: PathBuf,
}

/// Where the holder of the lock at `lock` writes its pid: next to it, never inside it.
fn pid_path(lock: &Path) -> PathBuf {
  lock.with_extension("pid")
}

impl FileLock {
  pub async fn acquire(path: &Path, deadline: Duration) -> Result<FileLock> {
    if let Some(dir) = path.parent() {
      crate::store::file::create_dir(dir, true)
        .map_err(|e| KimiError::store(format!("Cannot create {}: {e}.", dir.display())))?;
    }
    let file = OpenOptions::new()
      .read(true)
      .write(true)
      .create(true)
      .truncate(false)
      .open(path)
      .map_err(|e| KimiError::store(format!("Cannot open the lock file {}: {e}.", path.display())))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
      match file.try_lock() {
        Ok(()) => {
          let pid_path = pid_path(path);
          // Best effort: the pid only improves a waiter's message.
          let _ = std::fs::write(&pid_path, std::process::id().to_string());
          return Ok(FileLock {
            file,
            path: path.to_path_buf(),
            pid_path,
          });
        }
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => {
          return Err(KimiError::store(format!("Cannot lock {}: {e}.", path.display())));
        }
      }
      if start.elapsed() >= deadline {
        let holder = std::fs::read_to_string(pid_path(path))
          .ok()
          .and_then(|t| t.trim().parse::<u32>().ok())
          .map(|pid| format!("process {pid}"))
          .unwrap_or_else(|| "another process".into());
        return Err(KimiError::new(
          Code::Store,
          format!(
            "The Kimi login is being refreshed by {holder}, which has held the refresh lock for over {} s. \
             The lock is released the moment that process exits; if it is stopped or hung, end it and try again. \
             Do not delete {}: that would let two processes refresh at once and log you out.",
            deadline.as_secs(),
            path.display()
          ),
        ));
      }
      tokio::time::sleep(pause).await;
      pause = (pause * 2).min(Duration::from_millis(50));
    }
  }

  pub fn path(&self) -> &Path {
    &self.path
  }
}

impl Drop for FileLock {
  fn drop(&mut self) {
    // Removed while still held, so a waiter never names a process that has already let go.
    let _ = std::fs::remove_file(&self.pid_path);
    let _ = self.file.unlock();
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn second_holder_waits_then_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locks/x.lock");
    let first = FileLock::acquire(&path, Duration::from_secs(1)).await.unwrap();
    let pid = std::process::id().to_string();
    // The pid lives beside the lock: Windows' mandatory lock would refuse a waiter's read of the
    // locked file itself, so nothing is written into it.
    assert_eq!(std::fs::read_to_string(path.with_extension("pid")).unwrap(), pid);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let t = Instant::now();
    let err = FileLock::acquire(&path, Duration::from_millis(150))
      .await
      .err()
      .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(err.message.contains("refresh lock"));
    assert!(err.message.contains(&format!("process {pid}")), "{}", err.message);
    assert!(err.message.contains("Do not delete"));
    drop(first);
    assert!(!path.with_extension("pid").exists(), "the pid file goes with the lock");
    FileLock::acquire(&path, Duration::from_millis(150)).await.unwrap();
  }
}
