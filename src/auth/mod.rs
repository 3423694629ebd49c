//! Token lifecycle, one concept per file: where a token comes from (`sources`), the per-login
//! state of this process (`session`), the shared refresh flight and one refresh start to finish
//! (`refresh`), the retry after a 401 (`retry`), creating and ending a login (`login`), the
//! account endpoints the core calls itself (`api`), `status`.
//!
//! The rules: a refresh is one detached, shared operation that always persists its result;
//! a token that still works is never held back by a refresh it does not need; a refresh after
//! a 401 names the token the server rejected, so N concurrent 401s cost one refresh.

mod api;
mod exit;
mod handout;
mod login;
mod refresh;
mod retry;
mod session;
mod sources;
mod status;
mod unsaved;

pub use api::{discover_models, list_models, usage};
pub use exit::{exit_bound, wait_before_exit};
pub use handout::{caller_cache_secs, caller_id, hand_out, valid_for, HandOutRequest};
pub use login::{adopt_login, login, logout, store_login_locked, LoginEvents, LoginOutcome};
pub use refresh::{refreshes_pending, refreshes_settled};
pub use retry::{with_retry, Retried};
pub use sources::{official_logins, Grant, TokenSource};
pub use status::{status, StatusReport};

use crate::config::{is_kimi_origin, Role, Settings};
use crate::error::{Code, KimiError, Result};
use crate::token::{blocking_margin, needs_refresh, now_secs, StoredLogin};
use session::{session, Session};
use std::sync::Arc;

/// A token to send now. A due token that is still valid beyond the blocking margin is
/// returned at once while its refresh runs in the background; only an expired or nearly
/// expired token waits for the refresh.
pub async fn access_token(settings: &Settings) -> Result<Grant> {
  token(settings, None).await
}

/// A token other than `rejected`, which the server just answered 401 to: adopts a token
/// another caller already obtained, else joins or starts one forced refresh.
pub async fn token_after_rejection(settings: &Settings, rejected: &str) -> Result<Grant> {
  token(settings, Some(rejected.to_string())).await
}

/// A new token whatever the one in hand looks like (`getAccessToken({ force: true })`).
pub async fn forced_token(settings: &Settings) -> Result<Grant> {
  let held = session(settings).current(settings).await?;
  match held {
    Some(l) if l.relogin_reason.is_none() => token(settings, Some(l.access_token)).await,
    _ => token(settings, None).await,
  }
}

async fn token(settings: &Settings, rejected: Option<String>) -> Result<Grant> {
  // The one rule for every source (docs/security.md): a server a host's options name, that is
  // not Kimi's and that the user's environment does not name, gets no credential at all.
  if let Some(refusal) = settings.origin_refusal() {
    return Err(refusal);
  }
  let sess = session(settings);
  let mut relogin: Option<String> = None;
  if let Some(login) = sess.current(settings).await? {
    match &login.relogin_reason {
      Some(reason) => relogin = Some(reason.clone()),
      None => return native_token(settings, &sess, login, rejected).await,
    }
  }
  if let Some(g) = sources::api_key(settings) {
    return Ok(g);
  }
  if let Some(g) = sources::usable_official(settings) {
    return Ok(g);
  }
  Err(match relogin {
    Some(reason) => KimiError::relogin(&reason),
    None => not_logged_in(settings),
  })
}

/// "Not logged in", naming the servers when they are not the default pair, and a login on
/// this machine that exists but belongs to another pair.
fn not_logged_in(settings: &Settings) -> KimiError {
  let mut err = KimiError::not_logged_in();
  if !is_kimi_origin(&settings.oauth_host, Role::OAuth) || !is_kimi_origin(&settings.base_url, Role::Api) {
    err.message = format!(
      "Not logged in to Kimi For Coding at {} (API {}): logins are kept per server pair. Run `npx kimi-native login` with the same settings.",
      settings.oauth_host, settings.base_url
    );
  }
  if let Some(why) = sources::kimi_cli_elsewhere(settings) {
    err.message = format!("{} ({why}.)", err.message);
  }
  err
}

async fn native_token(
  settings: &Settings,
  sess: &Arc<Session>,
  login: StoredLogin,
  rejected: Option<String>,
) -> Result<Grant> {
  let now = now_secs();
  if let Some(bad) = rejected {
    if bad != login.access_token && login.expires_at > now {
      return Ok(Grant::native(&login));
    }
    return refresh::refreshed(sess, settings, Some(bad))
      .await
      .map(|l| Grant::native(&l));
  }
  if !needs_refresh(&login, now, settings.refresh_floor_secs) {
    return Ok(Grant::native(&login));
  }
  if login.expires_at - now > blocking_margin(&login) {
    refresh::refresh_in_background(sess, settings);
    return Ok(Grant::native(&login));
  }
  match refresh::refreshed(sess, settings, None).await {
    Ok(l) => Ok(Grant::native(&l)),
    // A refresh that failed for a passing reason must not break requests while the token works.
    Err(e) if !matches!(e.code, Code::ReloginRequired | Code::NotLoggedIn) && login.expires_at - now_secs() > 5.0 => {
      Ok(Grant::native(&login))
    }
    Err(e) => Err(e),
  }
}

#[cfg(test)]
mod tests {
  use crate::config::{Options, Settings};
  use crate::oauth::{DeviceAuthorization, PollOutcome};
  use crate::token::{StoredLogin, TokenResponse};

  /// Every type that holds a secret prints it as `[redacted]`, in `{:?}` and `{:#?}`.
  #[test]
  fn debug_output_never_shows_a_secret() {
    let secret = "sk-SECRET-0123456789abcdef";
    let login = StoredLogin {
      access_token: secret.into(),
      refresh_token: secret.into(),
      ..Default::default()
    };
    let response: TokenResponse = serde_json::from_str(&format!(
      r#"{{"access_token":"{secret}","refresh_token":"{secret}","expires_in":900}}"#
    ))
    .unwrap();
    let grant = super::Grant::native(&login);
    let device = DeviceAuthorization {
      device_code: secret.into(),
      user_code: "ABCD-EFGH".into(),
      verification_uri: "https://x".into(),
      verification_uri_complete: "https://x?c=ABCD-EFGH".into(),
      expires_in: Some(900.0),
      interval: 5,
    };
    let settings = Settings::resolve_with(&Options::default(), &|k: &str| match k {
      "KIMI_API_KEY" => Some(secret.to_string()),
      "KIMI_NATIVE_HOME" => Some("/h".to_string()),
      _ => None,
    })
    .unwrap();
    assert_eq!(settings.api_key.as_ref().unwrap().expose(), secret);
    let printed = [
      format!("{login:?}{login:#?}{login}"),
      format!("{response:?}{response:#?}"),
      format!("{grant:?}{grant:#?}"),
      format!("{device:?}{device:#?}"),
      format!("{:?}", PollOutcome::Token(login.clone())),
      format!("{settings:?}{settings:#?}"),
    ];
    for text in printed {
      assert!(!text.contains("SECRET"), "{text}");
      assert!(text.contains("redacted"), "{text}");
    }
  }
}
