//! One refresh, start to finish: the cross-process lock, a re-read of the store (another
//! process may have rotated already), the OAuth call with docs/kimi-wire.md §2's retries, and a write
//! that neither drops the rotation nor resurrects a login that was signed out meanwhile.

use super::session::{blocking, Session};
use super::{exit, unsaved};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::lock::FileLock;
use crate::oauth::{OAuthClient, RefreshFailure};
use crate::token::{needs_refresh, now_secs, StoredLogin};
use std::sync::Arc;
use std::time::Duration;

/// How long a refresh may wait for another process holding the lock (kimi-code: ~90 s).
pub(crate) const LOCK_DEADLINE: Duration = Duration::from_secs(90);

/// The body of a refresh flight. `rejected` is the access token the server refused (a forced
/// refresh); `None` refreshes only when the stored token is due.
pub(crate) async fn run(settings: Settings, sess: Arc<Session>, rejected: Option<String>) -> Result<StoredLogin> {
  let epoch = sess.epoch();
  let _lock = FileLock::acquire(&settings.lock_path(), LOCK_DEADLINE).await?;
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
