//! Creating and ending a login: RFC 8628 device login as kimi-code does it, and logout. Both
//! write under the same locks as a refresh, so a refresh finishing late can neither overwrite
//! a new login nor bring back one that was signed out.

use super::session::{session, Session};
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::lock::{FileLock, REFRESH_LOCK_DEADLINE};
use crate::models::{self, ModelInfo};
use crate::oauth::{DeviceAuthorization, OAuthClient, PollOutcome};
use crate::task::blocking;
use crate::token::StoredLogin;
use std::time::Duration;

/// How long a logout waits for another process's refresh to finish before its second pass
/// (a refresh in flight checks the store before it writes, so this only narrows a race).
const LOGOUT_LOCK_WAIT: Duration = Duration::from_secs(35);

pub trait LoginEvents: Send + Sync {
  /// `notice` is set when the OAuth host is not Kimi's: shown with the code, so the user knows
  /// which server they are signing in to.
  fn device_code(&self, code: &DeviceAuthorization, oauth_host: &str, notice: Option<&str>);
  /// `slow_down` (new interval), `restart` (new code), `retry` (a network or server error
  /// while polling; polling goes on at the next interval).
  fn event(&self, kind: &str, interval: Option<u64>);
}

pub struct LoginOutcome {
  pub store: &'static str,
  pub store_reason: String,
  pub expires_at: f64,
  pub models: Vec<ModelInfo>,
  pub warning: Option<String>,
  /// As for `LoginEvents::device_code`: the OAuth host is not Kimi's.
  pub notice: Option<String>,
}

/// Stores a new login for these settings: under the cross-process lock, then this process's
/// write order, so refreshes of the previous login (here or elsewhere) cannot overwrite it.
pub async fn adopt_login(settings: &Settings, login: StoredLogin) -> Result<()> {
  let _lock = FileLock::acquire(&settings.lock_path(), REFRESH_LOCK_DEADLINE).await?;
  store_login_locked(settings, login).await
}

/// As [`adopt_login`], for a caller that already holds `settings.lock_path()` (import, which
/// must refresh and store under one hold of the lock). Fails only when the login could be
/// written nowhere; it is then still held in this process's memory.
pub async fn store_login_locked(settings: &Settings, login: StoredLogin) -> Result<()> {
  let sess = session(settings);
  let _writes = sess.writes.lock().await;
  sess.new_epoch(settings).await;
  sess.set_cache(Some(login.clone()));
  // What the store holds now, should this write be refused (then memory keeps the new login).
  let holds = sess
    .read_store(settings)
    .await
    .ok()
    .flatten()
    .map(|(l, _)| l.refresh_token);
  sess.persist(settings, &login, holds).await
}

/// Device login: poll at once, then every `interval`; `slow_down` adds 5 s for good;
/// `expired_token` starts a new code within the login budget; `access_denied` ends it. A
/// network or server failure while polling is retried at the next interval on a fresh
/// connection until the budget runs out. The token is stored, then models are discovered.
pub async fn login(settings: &Settings, events: &dyn LoginEvents, cancel: &Cancel) -> Result<LoginOutcome> {
  let oauth = OAuthClient::new(settings)?;
  let sess = session(settings);
  let store = sess.store(settings).await?;
  let notice = settings.foreign_login_notice();
  let budget = settings.login_budget;
  let deadline = tokio::time::Instant::now() + budget;
  let expired = || {
    KimiError::new(
      Code::LoginExpired,
      format!(
        "The login was not approved within {} minutes. Run `npx kimi-native login` again.",
        (budget.as_secs() / 60).max(1)
      ),
    )
  };
  let login = 'outer: loop {
    if tokio::time::Instant::now() >= deadline {
      return Err(expired());
    }
    let code = cancel.run(oauth.device_authorization()).await?;
    events.device_code(&code, &settings.oauth_host, notice.as_deref());
    let code_deadline = code
      .expires_in
      .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s))
      .unwrap_or(deadline);
    let mut interval = code.interval;
    loop {
      match cancel.run(oauth.poll(&code.device_code)).await {
        Ok(PollOutcome::Token(t)) => break 'outer t,
        Ok(PollOutcome::Pending) => {}
        Ok(PollOutcome::SlowDown) => {
          interval += c::SLOW_DOWN_STEP_SECS;
          events.event("slow_down", Some(interval));
        }
        Ok(PollOutcome::Expired) => {
          events.event("restart", None);
          continue 'outer;
        }
        Ok(PollOutcome::Denied(desc)) => {
          return Err(KimiError::new(
            Code::LoginDenied,
            format!("The login was denied in the browser ({desc}). Run `npx kimi-native login` to try again."),
          ))
        }
        Err(e) if matches!(e.code, Code::Network | Code::Server) => {
          if tokio::time::Instant::now() >= code_deadline {
            events.event("restart", None);
            continue 'outer;
          }
          events.event("retry", Some(interval));
        }
        Err(e) => return Err(e),
      }
      let wake = tokio::time::Instant::now() + Duration::from_secs(interval);
      if wake >= deadline {
        return Err(expired());
      }
      cancel.sleep(Duration::from_secs(interval)).await?;
    }
  };
  let mut login = login;
  login.oauth_host = Some(settings.oauth_host.clone());
  adopt_login(settings, login.clone()).await?;
  let (models, warning) = match super::discover_models(settings, Some(login.access_token.clone())).await {
    Ok(m) => (m, None),
    Err(e) => (
      vec![],
      Some(format!("Logged in, but listing models failed: {}", e.message)),
    ),
  };
  let reason = sess.store_note().unwrap_or(store.reason);
  Ok(LoginOutcome {
    store: store.kind,
    store_reason: reason,
    expires_at: login.expires_at,
    models,
    warning,
    notice,
  })
}

async fn delete_login(settings: &Settings, sess: &Session) -> Result<bool> {
  let st = sess.store(settings).await?;
  let s = settings.clone();
  let removed = blocking(move || {
    let removed = st.delete()?;
    // The account's model list goes with its login.
    models::clear_cache(&s);
    Ok(removed)
  })
  .await?;
  sess.set_cache(None);
  Ok(removed)
}

/// Signs out at once, then once more under the cross-process lock: a refresh that another
/// process had in flight sees an empty store before it writes and drops its result.
pub async fn logout(settings: &Settings) -> Result<bool> {
  let sess = session(settings);
  let removed = {
    let _writes = sess.writes.lock().await;
    sess.new_epoch(settings).await;
    delete_login(settings, &sess).await?
  };
  if let Ok(_lock) = FileLock::acquire(&settings.lock_path(), LOGOUT_LOCK_WAIT).await {
    let _writes = sess.writes.lock().await;
    sess.new_epoch(settings).await;
    delete_login(settings, &sess).await?;
  }
  Ok(removed)
}
