//! OS keychain backend via the `keyring` crate: macOS Keychain, Windows Credential Manager,
//! Secret Service on Linux/BSD. Every call runs on its own thread under a timeout so a locked
//! or hung keychain cannot stall a host. Large values are split into chunks because Windows
//! limits a credential blob to 2560 bytes; the same layout is used everywhere so it is tested
//! everywhere.
//!
//! A write that times out is left to finish on its thread (a keychain call cannot be
//! interrupted). So that it can never land after a later write and roll the keychain back to a
//! spent refresh token, every write (and delete) holds an OS file lock beside the refresh lock
//! while it runs, in any process: a later write waits for it, or times out and leaves the
//! login to the fallback file; a write that could not take the lock before its caller gave up
//! does not write at all.

use super::Backend;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::token::StoredLogin;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(target_os = "macos")]
pub const NAME: &str = "macOS Keychain";
#[cfg(target_os = "windows")]
pub const NAME: &str = "Windows Credential Manager";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
pub const NAME: &str = "Secret Service keyring";

/// Raw string storage under (service, account); the seam that lets the chunking be unit-tested.
pub trait RawKeychain: Send + Sync {
  fn get(&self, account: &str) -> std::result::Result<Option<String>, String>;
  fn set(&self, account: &str, value: &str) -> std::result::Result<(), String>;
  fn remove(&self, account: &str) -> std::result::Result<bool, String>;
}

struct OsKeychain {
  service: String,
}

impl OsKeychain {
  fn entry(&self, account: &str) -> std::result::Result<keyring::Entry, String> {
    keyring::Entry::new(&self.service, account).map_err(describe)
  }
}

fn describe(e: keyring::Error) -> String {
  match e {
    keyring::Error::PlatformFailure(inner) => format!("platform failure: {inner}"),
    keyring::Error::NoStorageAccess(inner) => format!("no storage access (locked or no keyring daemon): {inner}"),
    other => other.to_string(),
  }
}

impl RawKeychain for OsKeychain {
  fn get(&self, account: &str) -> std::result::Result<Option<String>, String> {
    match self.entry(account)?.get_password() {
      Ok(v) => Ok(Some(v)),
      Err(keyring::Error::NoEntry) => Ok(None),
      Err(e) => Err(describe(e)),
    }
  }
  fn set(&self, account: &str, value: &str) -> std::result::Result<(), String> {
    self.entry(account)?.set_password(value).map_err(describe)
  }
  fn remove(&self, account: &str) -> std::result::Result<bool, String> {
    match self.entry(account)?.delete_credential() {
      Ok(()) => Ok(true),
      Err(keyring::Error::NoEntry) => Ok(false),
      Err(e) => Err(describe(e)),
    }
  }
}

/// The head entry when a value is split.
#[derive(Serialize, Deserialize)]
struct ChunkHead {
  chunks: usize,
  sha256: String,
}

/// Takes the write lock at `path` before `deadline`, unless the caller gave up meanwhile.
/// `Ok(None)`: no lock file can be had here (no home); the write goes ahead unordered, as a
/// store without a lock directory always did.
fn hold_write_lock(
  path: &std::path::Path,
  deadline: Instant,
  gave_up: &AtomicBool,
) -> std::result::Result<Option<std::fs::File>, String> {
  let opened = path
    .parent()
    .map_or(Ok(()), |dir| crate::store::file::create_dir(dir, true))
    .and_then(|_| {
      std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    });
  let Ok(file) = opened else { return Ok(None) };
  loop {
    match file.try_lock() {
      Ok(()) => {
        // Checked with the lock held: from here on a later write waits for this one.
        if gave_up.load(Ordering::SeqCst) {
          return Err("gave up".into());
        }
        return Ok(Some(file));
      }
      Err(std::fs::TryLockError::WouldBlock) => {}
      Err(std::fs::TryLockError::Error(_)) => return Ok(None),
    }
    if Instant::now() >= deadline || gave_up.load(Ordering::SeqCst) {
      return Err("an earlier write of this login to the keychain has not finished".into());
    }
    std::thread::sleep(Duration::from_millis(5));
  }
}

pub struct KeychainStore {
  raw: std::sync::Arc<dyn RawKeychain>,
  account: String,
  timeout: Duration,
  /// The file every write of this login holds while it runs (see the module comment).
  write_lock: Option<PathBuf>,
}

fn sha_hex(s: &str) -> String {
  Sha256::digest(s.as_bytes())
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect()
}

impl KeychainStore {
  pub fn new(settings: &Settings) -> Self {
    KeychainStore {
      raw: std::sync::Arc::new(OsKeychain {
        service: c::KEYCHAIN_SERVICE.into(),
      }),
      account: settings.keychain_account(),
      timeout: settings.keychain_timeout,
      write_lock: Some(settings.keychain_write_lock_path()),
    }
  }

  pub fn with_raw(raw: std::sync::Arc<dyn RawKeychain>, account: &str, timeout: Duration) -> Self {
    KeychainStore {
      raw,
      account: account.into(),
      timeout,
      write_lock: None,
    }
  }

  /// Orders this store's writes through the lock file `path` (as `new` does).
  pub fn with_write_lock(mut self, path: PathBuf) -> Self {
    self.write_lock = Some(path);
    self
  }

  /// Runs `op` on its own thread; gives up after the timeout (the thread is left to finish).
  fn timed<T: Send + 'static>(
    &self,
    what: &str,
    op: impl FnOnce(&dyn RawKeychain) -> std::result::Result<T, String> + Send + 'static,
  ) -> Result<T> {
    self.timed_with(what, None, op)
  }

  /// As `timed`, holding the write lock (when there is one) around `op`.
  fn timed_write<T: Send + 'static>(
    &self,
    what: &str,
    op: impl FnOnce(&dyn RawKeychain) -> std::result::Result<T, String> + Send + 'static,
  ) -> Result<T> {
    self.timed_with(what, self.write_lock.clone(), op)
  }

  fn timed_with<T: Send + 'static>(
    &self,
    what: &str,
    write_lock: Option<PathBuf>,
    op: impl FnOnce(&dyn RawKeychain) -> std::result::Result<T, String> + Send + 'static,
  ) -> Result<T> {
    let raw = self.raw.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let deadline = Instant::now() + self.timeout;
    // Set when this call gives up: a write that has not taken the lock by then must not run.
    let abandoned = Arc::new(AtomicBool::new(false));
    let gave_up = abandoned.clone();
    let spawned = std::thread::Builder::new().name("kimi-keychain".into()).spawn(move || {
      let _held = match write_lock.map(|p| hold_write_lock(&p, deadline, &gave_up)) {
        Some(Err(msg)) => {
          let _ = tx.send(Err(msg));
          return;
        }
        Some(Ok(held)) => held,
        None => None,
      };
      let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(raw.as_ref())))
        .unwrap_or_else(|_| Err("the keychain library panicked".into()));
      let _ = tx.send(out);
    });
    if spawned.is_err() {
      return Err(KimiError::new(
        Code::KeychainUnavailable,
        "cannot start a keychain thread",
      ));
    }
    let answer = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    if answer.is_err() {
      abandoned.store(true, Ordering::SeqCst);
    }
    match answer {
      Ok(Ok(v)) => Ok(v),
      Ok(Err(msg)) => Err(KimiError::new(
        Code::KeychainUnavailable,
        format!("{NAME} {what} failed: {msg}"),
      )),
      Err(_) => Err(KimiError::new(
        Code::KeychainUnavailable,
        format!(
          "{NAME} did not answer within {} ms ({what}); it may be locked",
          self.timeout.as_millis()
        ),
      )),
    }
  }

  pub fn probe(&self) -> Result<()> {
    let account = self.account.clone();
    self.timed("probe", move |raw| raw.get(&account).map(|_| ()))
  }

  fn chunk_account(&self, i: usize) -> String {
    format!("{}#{}", self.account, i)
  }
}

impl Backend for KeychainStore {
  fn kind(&self) -> &'static str {
    "keychain"
  }

  fn load(&self) -> Result<Option<StoredLogin>> {
    let account = self.account.clone();
    let chunk_names: Vec<String> = (1..=64).map(|i| self.chunk_account(i)).collect();
    let value = self.timed("read", move |raw| {
      let Some(head) = raw.get(&account)? else {
        return Ok(None);
      };
      let Ok(meta) = serde_json::from_str::<ChunkHead>(&head) else {
        return Ok(Some(head));
      };
      let mut whole = String::new();
      for name in chunk_names.iter().take(meta.chunks) {
        whole.push_str(&raw.get(name)?.ok_or("a chunk of the stored login is missing")?);
      }
      if sha_hex(&whole) != meta.sha256 {
        return Err("the stored login's chunks do not match their checksum".into());
      }
      Ok(Some(whole))
    })?;
    let Some(text) = value else { return Ok(None) };
    serde_json::from_str::<StoredLogin>(&text).map(Some).map_err(|_| {
      KimiError::store(format!(
        "The login stored in the {NAME} (service {:?}, account {:?}) is unreadable. It was left untouched; run `npx kimi-native login` to replace it.",
        c::KEYCHAIN_SERVICE,
        self.account
      ))
    })
  }

  fn save(&self, login: &StoredLogin) -> Result<()> {
    let text = serde_json::to_string(login).map_err(|e| KimiError::internal(e.to_string()))?;
    let account = self.account.clone();
    let chunk_names: Vec<String> = (1..=64).map(|i| self.chunk_account(i)).collect();
    self.timed_write("write", move |raw| {
      if text.chars().count() <= c::KEYCHAIN_CHUNK_CHARS {
        raw.set(&account, &text)?;
        for name in &chunk_names {
          if !raw.remove(name)? {
            break;
          }
        }
        return Ok(());
      }
      let chars: Vec<char> = text.chars().collect();
      let parts: Vec<String> = chars
        .chunks(c::KEYCHAIN_CHUNK_CHARS)
        .map(|p| p.iter().collect())
        .collect();
      if parts.len() > chunk_names.len() {
        return Err("the login is too large for the keychain".into());
      }
      // Chunks first, head last: a crash in between leaves the previous head, whose checksum
      // then fails loudly instead of yielding a mixed token.
      for (name, part) in chunk_names.iter().zip(&parts) {
        raw.set(name, part)?;
      }
      let head = serde_json::to_string(&ChunkHead {
        chunks: parts.len(),
        sha256: sha_hex(&text),
      })
      .unwrap_or_default();
      raw.set(&account, &head)
    })
  }

  fn delete(&self) -> Result<bool> {
    let account = self.account.clone();
    let chunk_names: Vec<String> = (1..=64).map(|i| self.chunk_account(i)).collect();
    self.timed_write("delete", move |raw| {
      let removed = raw.remove(&account)?;
      for name in &chunk_names {
        if !raw.remove(name)? {
          break;
        }
      }
      Ok(removed)
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::collections::HashMap;
  use std::sync::{Arc, Mutex};

  #[derive(Default)]
  struct MemKeychain {
    map: Mutex<HashMap<String, String>>,
    max_len: usize,
  }
  impl RawKeychain for MemKeychain {
    fn get(&self, a: &str) -> std::result::Result<Option<String>, String> {
      Ok(self.map.lock().unwrap().get(a).cloned())
    }
    fn set(&self, a: &str, v: &str) -> std::result::Result<(), String> {
      if v.chars().count() > self.max_len {
        return Err("TooLong".into());
      }
      self.map.lock().unwrap().insert(a.into(), v.into());
      Ok(())
    }
    fn remove(&self, a: &str) -> std::result::Result<bool, String> {
      Ok(self.map.lock().unwrap().remove(a).is_some())
    }
  }

  struct HungKeychain;
  impl RawKeychain for HungKeychain {
    fn get(&self, _: &str) -> std::result::Result<Option<String>, String> {
      std::thread::sleep(Duration::from_secs(5));
      Ok(None)
    }
    fn set(&self, _: &str, _: &str) -> std::result::Result<(), String> {
      Ok(())
    }
    fn remove(&self, _: &str) -> std::result::Result<bool, String> {
      Ok(false)
    }
  }

  /// A keychain whose first write takes `first_write` (a keychain that hangs, then answers).
  struct SlowFirstWrite {
    inner: MemKeychain,
    first_write: Duration,
    writes: std::sync::atomic::AtomicUsize,
  }
  impl RawKeychain for SlowFirstWrite {
    fn get(&self, a: &str) -> std::result::Result<Option<String>, String> {
      self.inner.get(a)
    }
    fn set(&self, a: &str, v: &str) -> std::result::Result<(), String> {
      if self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        std::thread::sleep(self.first_write);
      }
      self.inner.set(a, v)
    }
    fn remove(&self, a: &str) -> std::result::Result<bool, String> {
      self.inner.remove(a)
    }
  }

  fn login_with(refresh: &str) -> StoredLogin {
    StoredLogin {
      access_token: format!("{refresh}-access"),
      refresh_token: refresh.into(),
      ..Default::default()
    }
  }

  /// A write that timed out and completes later never overwrites a later write: the later
  /// one waits for it (two stores over one keychain stand for two processes).
  #[test]
  fn a_timed_out_write_that_completes_late_never_overwrites_a_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("locks/slot.keychain.lock");
    let raw = Arc::new(SlowFirstWrite {
      inner: MemKeychain {
        max_len: 4096,
        ..Default::default()
      },
      first_write: Duration::from_millis(700),
      writes: Default::default(),
    });
    let store = |raw: Arc<SlowFirstWrite>| {
      KeychainStore::with_raw(raw, "oauth/t", Duration::from_millis(500)).with_write_lock(lock.clone())
    };
    let (first, second) = (store(raw.clone()), store(raw.clone()));
    let err = first.save(&login_with("RT-spent")).unwrap_err();
    assert!(err.message.contains("did not answer"), "{}", err.message);
    // Issued after the first gave up, while it still runs: lands after it.
    second.save(&login_with("RT-latest")).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(first.load().unwrap().unwrap().refresh_token, "RT-latest");

    // A write that cannot take the lock before its caller gives up does not write at all.
    let raw = Arc::new(SlowFirstWrite {
      inner: MemKeychain {
        max_len: 4096,
        ..Default::default()
      },
      first_write: Duration::from_millis(1500),
      writes: Default::default(),
    });
    let (first, second) = (store(raw.clone()), store(raw.clone()));
    assert!(first.save(&login_with("RT-1")).is_err());
    assert!(second.save(&login_with("RT-2")).is_err());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(first.load().unwrap().unwrap().refresh_token, "RT-1");
    assert_eq!(
      raw.writes.load(std::sync::atomic::Ordering::SeqCst),
      1,
      "the abandoned write never ran"
    );
  }

  fn big_login() -> StoredLogin {
    StoredLogin {
      access_token: "a".repeat(1800),
      refresh_token: "r".repeat(1500),
      expires_at: 1.0,
      expires_in: 900.0,
      ..Default::default()
    }
  }

  #[test]
  fn large_logins_are_chunked_under_the_windows_limit() {
    // 1280 UTF-16 chars is the Windows Credential Manager limit.
    let mem = Arc::new(MemKeychain {
      max_len: 1280,
      ..Default::default()
    });
    let store = KeychainStore::with_raw(mem.clone(), "oauth/t", Duration::from_secs(2));
    store.save(&big_login()).unwrap();
    assert!(mem.map.lock().unwrap().len() >= 4);
    assert_eq!(store.load().unwrap(), Some(big_login()));
    // Shrinking back to one entry removes the chunks.
    let small = StoredLogin {
      access_token: "a".into(),
      refresh_token: "r".into(),
      ..Default::default()
    };
    store.save(&small).unwrap();
    assert_eq!(mem.map.lock().unwrap().len(), 1);
    assert_eq!(store.load().unwrap(), Some(small));
    assert!(store.delete().unwrap());
    assert_eq!(store.load().unwrap(), None);
  }

  #[test]
  fn tampered_chunks_fail_loudly() {
    let mem = Arc::new(MemKeychain {
      max_len: 1280,
      ..Default::default()
    });
    let store = KeychainStore::with_raw(mem.clone(), "oauth/t", Duration::from_secs(2));
    store.save(&big_login()).unwrap();
    mem.map.lock().unwrap().insert("oauth/t#2".into(), "x".into());
    assert_eq!(store.load().unwrap_err().code, Code::KeychainUnavailable);
  }

  #[test]
  fn hung_keychain_times_out() {
    let store = KeychainStore::with_raw(Arc::new(HungKeychain), "oauth/t", Duration::from_millis(200));
    let t = std::time::Instant::now();
    let err = store.probe().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(err.message.contains("did not answer"), "{}", err.message);
  }
}
