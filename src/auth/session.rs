//! Per-login state shared by every caller in this process: the resolved store, the login held
//! in memory, the slot of the one refresh in flight (auth/refresh.rs drives it), and the
//! ordering of writes (refresh, login, logout).

use super::unsaved::{self, Unsaved};
use crate::config::Settings;
use crate::error::{KimiError, Result};
use crate::lock::FileLock;
use crate::store::{self, Origin, ResolvedStore};
use crate::task::blocking;
use crate::token::StoredLogin;
use futures_util::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long "no login stored" is believed before the store is read again (a login made by
/// another process shows up within this time). Callers on `KIMI_API_KEY` or an official
/// client's login would otherwise read the store (a keychain round trip) on every request.
const ABSENT_RECHECK: Duration = Duration::from_secs(5);
/// Pauses between attempts to write a rotated login before falling back.
const WRITE_RETRY_PAUSES_MS: [u64; 3] = [0, 100, 400];

/// A refresh shared by every caller that waits for it.
pub(crate) type Flight = Shared<BoxFuture<'static, Result<StoredLogin>>>;

/// The refresh in flight for this login and the failures before it (auth/refresh.rs).
#[derive(Default)]
pub(crate) struct Flights {
  pub(crate) current: Option<Flight>,
  pub(crate) failures: u32,
  pub(crate) last_failure: Option<(Instant, KimiError)>,
}

#[derive(Default)]
struct State {
  cache: Option<StoredLogin>,
  absent_since: Option<Instant>,
  /// Bumped by login and logout: a refresh that started before must not write its result.
  epoch: u64,
  /// Why the last write did not land where the store says it should (keychain refused…).
  store_note: Option<String>,
  /// A rotation the store refused: then the login in memory is the login (auth/unsaved.rs).
  unsaved: Option<Unsaved>,
  /// Whether the background write of `unsaved` is running.
  retrying: bool,
}

pub(crate) struct Session {
  store: tokio::sync::OnceCell<ResolvedStore>,
  state: Mutex<State>,
  flights: Mutex<Flights>,
  /// Orders every write of this login within the process. Taken after the cross-process
  /// file lock, never before it.
  pub(crate) writes: tokio::sync::Mutex<()>,
}

pub(crate) fn session(settings: &Settings) -> Arc<Session> {
  static SESSIONS: OnceLock<Mutex<HashMap<String, Arc<Session>>>> = OnceLock::new();
  let key = format!("{}|{:?}", settings.login_key(), settings.store);
  SESSIONS
    .get_or_init(Default::default)
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .entry(key)
    .or_insert_with(|| {
      Arc::new(Session {
        store: tokio::sync::OnceCell::new(),
        state: Mutex::new(State::default()),
        flights: Mutex::new(Flights::default()),
        writes: tokio::sync::Mutex::new(()),
      })
    })
    .clone()
}

impl Session {
  fn state(&self) -> MutexGuard<'_, State> {
    self.state.lock().unwrap_or_else(|e| e.into_inner())
  }

  pub(crate) fn flights(&self) -> MutexGuard<'_, Flights> {
    self.flights.lock().unwrap_or_else(|e| e.into_inner())
  }

  pub(crate) async fn store(&self, settings: &Settings) -> Result<ResolvedStore> {
    let s = settings.clone();
    self
      .store
      .get_or_try_init(|| blocking(move || store::resolve(&s)))
      .await
      .cloned()
  }

  pub(crate) fn cached(&self) -> Option<StoredLogin> {
    self.state().cache.clone()
  }

  pub(crate) fn set_cache(&self, v: Option<StoredLogin>) {
    let mut st = self.state();
    st.cache = v.filter(|l| l.relogin_reason.is_none());
    st.absent_since = None;
  }

  pub(crate) fn epoch(&self) -> u64 {
    self.state().epoch
  }

  /// Login and logout call this under `writes`: earlier refreshes lose the right to write, and
  /// a login held only in memory is replaced.
  pub(crate) async fn new_epoch(&self, settings: &Settings) {
    self.state().epoch += 1;
    {
      let mut f = self.flights();
      f.failures = 0;
      f.last_failure = None;
    }
    self.forget_unsaved(settings).await;
  }

  pub(crate) fn unsaved(&self) -> Option<Unsaved> {
    self.state().unsaved.clone()
  }

  /// Drops the memory-only login (it was written, or another login replaced it) and its note.
  pub(crate) async fn forget_unsaved(&self, settings: &Settings) {
    if self.state().unsaved.take().is_some() {
      let s = settings.clone();
      let _ = blocking(move || {
        unsaved::clear_note(&s);
        Ok(())
      })
      .await;
    }
  }

  /// The login a refresh starts from: the store's, unless this process holds a newer pair the
  /// store refused, and the store still holds the pair it moved past (otherwise another
  /// process logged in or out since, and that wins).
  pub(crate) async fn load_latest(&self, settings: &Settings) -> Result<Option<StoredLogin>> {
    let Some(held) = self.unsaved() else {
      return self.load(settings).await;
    };
    match self.read_store(settings).await {
      Ok(stored) if !held.store_unchanged(stored.as_ref().map(|(l, _)| l)) => {
        self.forget_unsaved(settings).await;
        let stored = stored.map(|(l, _)| l);
        self.set_cache(stored.clone());
        Ok(stored)
      }
      // The store still holds the spent pair, or cannot be read: memory is the login.
      _ => Ok(Some(held.login)),
    }
  }

  /// Whether the store moved on from `previous` (the pair a refresh started from): a login or
  /// logout elsewhere, whose result then wins over the refresh's.
  pub(crate) fn store_moved_on(&self, stored: Option<&StoredLogin>, previous: &StoredLogin) -> bool {
    match self.unsaved() {
      Some(held) => !held.store_unchanged(stored),
      None => stored.is_none_or(|s| s.refresh_token != previous.refresh_token),
    }
  }

  pub(crate) fn store_note(&self) -> Option<String> {
    self.state().store_note.clone()
  }

  /// Reads the store without touching the cache.
  pub(crate) async fn read_store(&self, settings: &Settings) -> Result<Option<(StoredLogin, Origin)>> {
    let st = self.store(settings).await?;
    blocking(move || st.load_with_origin()).await
  }

  pub(crate) async fn load(&self, settings: &Settings) -> Result<Option<StoredLogin>> {
    let loaded = self.read_store(settings).await?.map(|(l, _)| l);
    self.set_cache(loaded.clone());
    if loaded.is_none() {
      self.state().absent_since = Some(Instant::now());
    }
    Ok(loaded)
  }

  /// The login held in memory, else the store's; an empty store is re-read only every
  /// [`ABSENT_RECHECK`].
  pub(crate) async fn current(&self, settings: &Settings) -> Result<Option<StoredLogin>> {
    let recently_absent = {
      let st = self.state();
      if let Some(l) = &st.cache {
        return Ok(Some(l.clone()));
      }
      st.absent_since.is_some_and(|t| t.elapsed() < ABSENT_RECHECK)
    };
    if recently_absent {
      return Ok(None);
    }
    self.load(settings).await
  }

  /// Writes a login so that it is never lost: a few attempts, then (in `auto`) the 0600 file
  /// with the reason kept for `status()`. Call with the new login already in memory.
  /// `store_holds` is the refresh token of the pair the store holds now (`None`: no login):
  /// when nothing can be written, memory keeps the login, a note tells other processes, and
  /// the write is retried in the background (auth/unsaved.rs).
  pub(crate) async fn persist(
    self: &Arc<Self>,
    settings: &Settings,
    login: &StoredLogin,
    store_holds: Option<String>,
  ) -> Result<()> {
    match self.write(settings, login, &WRITE_RETRY_PAUSES_MS).await {
      Ok(()) => {
        self.forget_unsaved(settings).await;
        Ok(())
      }
      Err(failure) => {
        self.keep_unsaved(settings, login, store_holds, &failure).await;
        Err(failure)
      }
    }
  }

  /// The store's primary backend (one attempt after each pause), then its fallback file.
  async fn write(&self, settings: &Settings, login: &StoredLogin, pauses: &[u64]) -> Result<()> {
    let st = self.store(settings).await?;
    let mut failure = None;
    for pause in pauses {
      tokio::time::sleep(Duration::from_millis(*pause)).await;
      let (s, l) = (st.clone(), login.clone());
      match blocking(move || s.save(&l)).await {
        Ok(()) => {
          self.state().store_note = None;
          return Ok(());
        }
        Err(e) => failure = Some(e),
      }
    }
    let failure = failure.unwrap_or_else(|| KimiError::store("The login could not be written."));
    if st.fallback.is_some() {
      let (s, l) = (st.clone(), login.clone());
      if blocking(move || s.save_fallback(&l)).await.is_ok() {
        self.state().store_note = Some(format!(
          "the {} refused a write ({}); the login is kept in a 0600 file in {} until the keychain works again",
          crate::store::keychain::NAME,
          failure.message,
          settings.home.display()
        ));
        return Ok(());
      }
    }
    Err(failure)
  }

  async fn keep_unsaved(
    self: &Arc<Self>,
    settings: &Settings,
    login: &StoredLogin,
    store_holds: Option<String>,
    failure: &KimiError,
  ) {
    if login.relogin_reason.is_some() {
      // A login marked dead is not worth keeping: nothing to retry.
      return self.forget_unsaved(settings).await;
    }
    let (held, start_retry) = {
      let mut st = self.state();
      let previous = st.unsaved.take();
      let held = Unsaved {
        login: login.clone(),
        store_had: previous.as_ref().map_or(store_holds, |p| p.store_had.clone()),
        since: previous.as_ref().map_or_else(Instant::now, |p| p.since),
        reason: failure.message.clone(),
      };
      st.unsaved = Some(held.clone());
      st.store_note = Some(format!(
        "the latest login could not be saved ({}); this process holds it in memory, goes on using it and retries \
         the write in the background; other processes are told why their copy no longer works",
        failure.message
      ));
      (held, !std::mem::replace(&mut st.retrying, true))
    };
    if let Some(spent) = held.store_had.clone() {
      let (s, reason) = (settings.clone(), held.reason.clone());
      let _ = blocking(move || {
        unsaved::write_note(&s, &spent, &reason);
        Ok(())
      })
      .await;
    }
    if start_retry {
      tokio::spawn(self.clone().retry_unsaved(settings.clone()));
    }
  }

  /// Writes the memory-only login once the store accepts writes again (or stops when another
  /// login replaced it), under the same locks as a refresh.
  async fn retry_unsaved(self: Arc<Self>, settings: Settings) {
    let _running = super::exit::begin_retry();
    let mut pause = unsaved::RETRY_FIRST;
    loop {
      // An exit cuts the pause short: one last attempt before the process ends.
      let exit = super::exit::exit_started().notified();
      tokio::pin!(exit);
      exit.as_mut().enable();
      if !super::exit::exiting() {
        tokio::select! {
          _ = tokio::time::sleep(pause) => {}
          _ = exit => {}
        }
      }
      pause = (pause * 2).min(unsaved::RETRY_MAX);
      if let Ok(_lock) = FileLock::acquire(&settings.lock_path(), Duration::from_secs(2)).await {
        let _writes = self.writes.lock().await;
        if let Some(held) = self.unsaved() {
          match self.read_store(&settings).await {
            Ok(stored) if !held.store_unchanged(stored.as_ref().map(|(l, _)| l)) => {
              self.forget_unsaved(&settings).await;
              self.set_cache(stored.map(|(l, _)| l));
            }
            _ => {
              if self.write(&settings, &held.login, &[0]).await.is_ok() {
                self.forget_unsaved(&settings).await;
              }
            }
          }
        }
      }
      let mut st = self.state();
      if st.unsaved.is_none() || super::exit::exiting() {
        st.retrying = false;
        return;
      }
    }
  }
}

#[cfg(test)]
impl Session {
  /// A session over a given store (tests inject a failing keychain).
  pub(crate) fn with_store(store: ResolvedStore) -> Arc<Session> {
    let cell = tokio::sync::OnceCell::new();
    let _ = cell.set(store);
    Arc::new(Session {
      store: cell,
      state: Mutex::new(State::default()),
      flights: Mutex::new(Flights::default()),
      writes: tokio::sync::Mutex::new(()),
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::Options;
  use crate::store::file::FileStore;
  use crate::store::keychain::{KeychainStore, RawKeychain};
  use crate::store::Backend;

  /// A keychain that reads but refuses every write, as a keychain that locks mid-session does.
  struct RefusesWrites;
  impl RawKeychain for RefusesWrites {
    fn get(&self, _: &str) -> std::result::Result<Option<String>, String> {
      Ok(None)
    }
    fn set(&self, _: &str, _: &str) -> std::result::Result<(), String> {
      Err("the collection is locked".into())
    }
    fn remove(&self, _: &str) -> std::result::Result<bool, String> {
      Ok(false)
    }
  }

  fn login(at: &str) -> StoredLogin {
    StoredLogin {
      access_token: at.into(),
      refresh_token: format!("{at}-refresh"),
      expires_at: crate::token::now_secs() + 900.0,
      expires_in: 900.0,
      ..Default::default()
    }
  }

  #[tokio::test]
  async fn a_refused_keychain_write_falls_back_to_the_file_and_keeps_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
      home: Some(dir.path().to_string_lossy().into_owned()),
      ..Default::default()
    };
    let settings = Settings::resolve_with(&opts, &|_: &str| None).unwrap();
    let file: Arc<dyn Backend> = Arc::new(FileStore::new(&settings));
    let keychain = KeychainStore::with_raw(Arc::new(RefusesWrites), "oauth/test", Duration::from_secs(1));
    let sess = Session::with_store(ResolvedStore {
      backend: Arc::new(keychain),
      fallback: Some(file.clone()),
      kind: "keychain",
      reason: "test".into(),
    });
    let rotated = login("rotated");
    sess.set_cache(Some(rotated.clone()));
    sess.persist(&settings, &rotated, None).await.unwrap();
    assert_eq!(file.load().unwrap().unwrap().refresh_token, "rotated-refresh");
    let (stored, origin) = sess.read_store(&settings).await.unwrap().unwrap();
    assert_eq!((stored.access_token.as_str(), origin), ("rotated", Origin::Fallback));
    let note = sess.store_note().unwrap();
    assert!(note.contains("refused a write") && note.contains("locked"), "{note}");
    assert!(!note.contains("rotated"), "no token in the note");
    assert_eq!(sess.cached().unwrap().access_token, "rotated");
  }

  #[tokio::test]
  async fn with_no_fallback_a_failed_write_keeps_the_login_in_memory_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
      home: Some(dir.path().to_string_lossy().into_owned()),
      ..Default::default()
    };
    let settings = Settings::resolve_with(&opts, &|_: &str| None).unwrap();
    let keychain = KeychainStore::with_raw(Arc::new(RefusesWrites), "oauth/test", Duration::from_secs(1));
    let sess = Session::with_store(ResolvedStore {
      backend: Arc::new(keychain),
      fallback: None,
      kind: "keychain",
      reason: "test".into(),
    });
    let rotated = login("rotated");
    sess.set_cache(Some(rotated.clone()));
    assert!(sess.persist(&settings, &rotated, None).await.is_err());
    assert_eq!(sess.cached().unwrap().access_token, "rotated");
    assert!(sess.store_note().unwrap().contains("holds it in memory"));
    assert!(sess.unsaved().is_some());
  }
}
