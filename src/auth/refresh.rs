//! One refresh, start to finish: the cross-process lock, a re-read of the store (another
//! process may have rotated already), the OAuth call with kimi-wire §2's retries, and a write
//! that neither drops the rotation nor resurrects a login that was signed out meanwhile.

use super::session::Session;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};
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
  let current = sess.load(&settings).await?.ok_or_else(KimiError::not_logged_in)?;
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
  let outcome = loop {
    match oauth.refresh(&current.refresh_token).await {
      Err(RefreshFailure::Transient(_)) if attempt + 1 < c::REFRESH_ATTEMPTS => {
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        attempt += 1;
      }
      other => break other,
    }
  };
  match outcome {
    Ok(mut fresh) => {
      fresh.oauth_host = Some(settings.oauth_host.clone());
      commit(&settings, &sess, &current, fresh, epoch).await
    }
    Err(RefreshFailure::Unauthorized(detail)) => {
      let reason = format!("the server refused the refresh token: {detail}");
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
  }
}

/// Writes the outcome of refreshing `previous`, unless the login moved on meanwhile: a logout
/// or a new login in this process (epoch), or in another one (the store no longer holds
/// `previous`). Returns the login now in force.
async fn commit(
  settings: &Settings,
  sess: &Session,
  previous: &StoredLogin,
  outcome: StoredLogin,
  epoch: u64,
) -> Result<StoredLogin> {
  let _writes = sess.writes.lock().await;
  if sess.epoch() != epoch {
    return Err(KimiError::not_logged_in());
  }
  match sess.read_store(settings).await {
    Ok(Some((stored, _))) if stored.refresh_token != previous.refresh_token => {
      sess.set_cache(Some(stored.clone()));
      return Ok(stored);
    }
    Ok(None) => {
      sess.set_cache(None);
      return Err(KimiError::not_logged_in());
    }
    // Still ours; or unreadable, and losing a rotation is worse than overwriting it.
    Ok(Some(_)) | Err(_) => {}
  }
  sess.set_cache(Some(outcome.clone()));
  // A failed write is noted for status() and the login stays in memory: the rotation already
  // happened on the server, so this request must still get its token.
  let _ = sess.persist(settings, &outcome).await;
  Ok(outcome)
}
