//! Refreshing a login: the one flight per login that every caller joins, the backoff after a
//! failed one, and one refresh start to finish: the cross-process lock, a re-read of the store
//! (another process may have rotated already), the OAuth call with docs/kimi-wire.md §2's retries, and
//! a write that neither drops the rotation nor resurrects a login that was signed out meanwhile.

use super::session::{Flight, Session};
use super::{exit, unsaved};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::lock::{FileLock, REFRESH_LOCK_DEADLINE};
use crate::oauth::{OAuthClient, RefreshFailure};
use crate::task::blocking;
use crate::token::{needs_refresh, now_secs, StoredLogin};
use futures_util::future::FutureExt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// After a failed refresh, callers reuse its error instead of asking the auth server again for
/// this long, doubling per consecutive failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Refreshes in flight in this process (any login). A host keeps its process alive while
/// this is above zero, so a rotation the server already made is persisted before exit.
fn pending() -> &'static tokio::sync::watch::Sender<usize> {
  static PENDING: OnceLock<tokio::sync::watch::Sender<usize>> = OnceLock::new();
  PENDING.get_or_init(|| tokio::sync::watch::channel(0).0)
}

pub fn refreshes_pending() -> usize {
  *pending().borrow()
}

/// Resolves once no refresh is in flight in this process.
pub async fn refreshes_settled() {
  let mut rx = pending().subscribe();
  let _ = rx.wait_for(|n| *n == 0).await;
}

/// Waits for a refresh. With `rejected`, the result is never that token: a refresh that
/// was already in flight for another reason and kept it is followed by a forced one.
pub(crate) async fn refreshed(
  sess: &Arc<Session>,
  settings: &Settings,
  rejected: Option<String>,
) -> Result<StoredLogin> {
  if let Some(e) = backing_off(sess) {
    return Err(e);
  }
  let login = flight(sess, settings, rejected.clone()).await?;
  match rejected {
    Some(bad) if login.access_token == bad => flight(sess, settings, Some(bad)).await,
    _ => Ok(login),
  }
}

/// Starts the due refresh without waiting for it (refresh-ahead while the token works).
pub(crate) fn refresh_in_background(sess: &Arc<Session>, settings: &Settings) {
  if backing_off(sess).is_none() {
    drop(flight(sess, settings, None));
  }
}

/// The refresh in flight, or a new one. It runs on its own task: a caller that is cancelled
/// or times out only stops waiting; the refresh still completes and is persisted.
fn flight(sess: &Arc<Session>, settings: &Settings, rejected: Option<String>) -> Flight {
  let mut flights = sess.flights();
  if let Some(f) = &flights.current {
    return f.clone();
  }
  let (sess, s) = (sess.clone(), settings.clone());
  pending().send_modify(|n| *n += 1);
  let handle = tokio::spawn(async move {
    let out = std::panic::AssertUnwindSafe(run(s, sess.clone(), rejected))
      .catch_unwind()
      .await
      .unwrap_or_else(|_| Err(KimiError::internal("the token refresh hit an internal error (a bug)")));
    finish_flight(&sess, &out);
    pending().send_modify(|n| *n = n.saturating_sub(1));
    out
  });
  let flight = async move {
    handle
      .await
      .unwrap_or_else(|_| Err(KimiError::internal("the token refresh task stopped")))
  }
  .boxed()
  .shared();
  flights.current = Some(flight.clone());
  flight
}

fn finish_flight(sess: &Session, out: &Result<StoredLogin>) {
  let mut flights = sess.flights();
  flights.current = None;
  match out {
    Ok(_) => {
      flights.failures = 0;
      flights.last_failure = None;
    }
    Err(e) => {
      flights.failures = flights.failures.saturating_add(1);
      flights.last_failure = Some((Instant::now(), e.clone()));
    }
  }
}

/// The last refresh's error while its backoff lasts and nothing is in flight: a dead auth
/// server is not asked again by every request.
fn backing_off(sess: &Session) -> Option<KimiError> {
  let flights = sess.flights();
  if flights.current.is_some() {
    return None;
  }
  let (at, err) = flights.last_failure.as_ref()?;
  let wait = FIRST_BACKOFF
    .saturating_mul(1 << flights.failures.saturating_sub(1).min(6))
    .min(MAX_BACKOFF);
  (at.elapsed() < wait).then(|| err.clone())
}

/// The body of a refresh flight. `rejected` is the access token the server refused (a forced
/// refresh); `None` refreshes only when the stored token is due.
async fn run(settings: Settings, sess: Arc<Session>, rejected: Option<String>) -> Result<StoredLogin> {
  let epoch = sess.epoch();
  let _lock = FileLock::acquire(&settings.lock_path(), REFRESH_LOCK_DEADLINE).await?;
  let current = sess
    .load_latest(&settings)
    .await?
    .ok_or_else(KimiError::not_logged_in)?;
  if let Some(reason) = &current.relogin_reason {
    return Err(KimiError::relogin(reason));
  }
  let now = now_secs();
  let adopt = match &rejected {
    // Another caller or process already replaced the token the server refused.
    Some(bad) => current.access_token != *bad && current.expires_at > now,
    None => !needs_refresh(&current, now, settings.refresh_floor_secs),
  };
  if adopt {
    return Ok(current);
  }
  let oauth = OAuthClient::new(&settings)?;
  let mut attempt = 0;
  // Held from the moment a request goes out until its answer is persisted: an exit waits for
  // it (auth/exit.rs). Released before a retry's pause, which may be dropped at exit.
  let (outcome, sent) = loop {
    let sent = exit::begin_send().ok_or_else(exiting)?;
    match oauth.refresh(&current.refresh_token).await {
      Err(RefreshFailure::Transient(_)) if attempt + 1 < c::REFRESH_ATTEMPTS => {
        drop(sent);
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        attempt += 1;
      }
      other => break (other, sent),
    }
  };
  let committed = match outcome {
    Ok(mut fresh) => {
      fresh.oauth_host = Some(settings.oauth_host.clone());
      commit(&settings, &sess, &current, fresh, epoch).await
    }
    Err(RefreshFailure::Unauthorized(detail)) => {
      let (s, spent) = (settings.clone(), current.refresh_token.clone());
      let explained = blocking(move || Ok(unsaved::explain_spent(&s, &spent)))
        .await
        .ok()
        .flatten();
      if let Some((why, true)) = &explained {
        // The login lives on in the process that could not save it: no tombstone.
        return Err(KimiError::new(
          Code::Store,
          format!("This process's copy of the Kimi login is out of date: {why}."),
        ));
      }
      let reason = match explained {
        Some((why, _)) => why,
        None => format!("the server refused the refresh token: {detail}"),
      };
      let mut marked = current.clone();
      marked.relogin_reason = Some(reason.clone());
      // Kept, not deleted, so status() can explain; a newer login found instead is adopted.
      match commit(&settings, &sess, &current, marked, epoch).await {
        Ok(newer) if newer.relogin_reason.is_none() => Ok(newer),
        Ok(_) => Err(KimiError::relogin(&reason)),
        Err(e) => Err(e),
      }
    }
    Err(RefreshFailure::Transient(e)) | Err(RefreshFailure::Fatal(e)) => Err(e),
  };
  drop(sent);
  committed
}

fn exiting() -> KimiError {
  KimiError::new(
    Code::Cancelled,
    "The process is exiting: the token refresh was not started (nothing was lost).",
  )
}

/// Writes the outcome of refreshing `previous`, unless the login moved on meanwhile: a logout
/// or a new login in this process (epoch), or in another one (the store no longer holds
/// `previous`). Returns the login now in force.
async fn commit(
  settings: &Settings,
  sess: &Arc<Session>,
  previous: &StoredLogin,
  outcome: StoredLogin,
  epoch: u64,
) -> Result<StoredLogin> {
  let _writes = sess.writes.lock().await;
  if sess.epoch() != epoch {
    return Err(KimiError::not_logged_in());
  }
  // Unreadable: losing a rotation is worse than overwriting it, so the outcome is written.
  if let Ok(stored) = sess.read_store(settings).await {
    let stored = stored.map(|(l, _)| l);
    if sess.store_moved_on(stored.as_ref(), previous) {
      sess.forget_unsaved(settings).await;
      sess.set_cache(stored.clone());
      return stored.ok_or_else(KimiError::not_logged_in);
    }
  }
  // The pair the store holds, should this write be refused: the one this process moved past.
  let holds = sess
    .unsaved()
    .map_or_else(|| Some(previous.refresh_token.clone()), |u| u.store_had);
  sess.set_cache(Some(outcome.clone()));
  // A failed write keeps the login in memory (auth/unsaved.rs): the rotation already happened
  // on the server, so this request must still get its token.
  let _ = sess.persist(settings, &outcome, holds).await;
  Ok(outcome)
}
