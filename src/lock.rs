//! Cross-process refresh lock: an OS file lock (flock / LockFileEx via std) on
//! `<home>/locks/<slot>.lock`. Taken without blocking a thread (try-lock + async sleep) and
//! under a deadline, so a stuck peer cannot hang a host forever. Fail-closed like kimi-code:
//! refreshing without the lock could burn a rotated refresh token another process holds.
//! The OS releases the lock when its holder exits, however it exits; the holder writes its
//! pid into the file so a waiter can say which process it is waiting for.

use crate::error::{Code, KimiError, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct FileLock {
  file: File,
  path: PathBuf,
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
          let mut file = file;
          // Best effort: the pid only improves a waiter's message.
          let _ = file.set_len(0).and_then(|_| file.rewind());
          let _ = write!(file, "{}", std::process::id());
          return Ok(FileLock {
            file,
            path: path.to_path_buf(),
          });
        }
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => {
          return Err(KimiError::store(format!("Cannot lock {}: {e}.", path.display())));
        }
      }
      if start.elapsed() >= deadline {
        let holder = std::fs::read_to_string(path)
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
    let t = Instant::now();
    let err = FileLock::acquire(&path, Duration::from_millis(150))
      .await
      .err()
      .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(err.message.contains("refresh lock"));
    assert!(
      err.message.contains(&format!("process {}", std::process::id())),
      "{}",
      err.message
    );
    assert!(err.message.contains("Do not delete"));
    drop(first);
    FileLock::acquire(&path, Duration::from_millis(150)).await.unwrap();
  }
}
