//! The rule for every request the core sends with the user's token, as both official clients
//! do it: on a 401, one forced refresh that names the rejected token (so N concurrent 401s cost
//! one refresh, and a token another caller already obtained is adopted), then one retry.

use super::sources::{Grant, TokenSource};
use crate::config::Settings;
use crate::error::{KimiError, Result};
use std::future::Future;

/// The last answer, and why it was not retried when the refresh after its 401 failed.
pub struct Retried<A> {
  pub answer: A,
  pub refresh_error: Option<KimiError>,
}

impl<A> Retried<A> {
  /// The answer, or the failed refresh's error (the reason the 401 stands).
  pub fn or_refresh_error(self) -> Result<A> {
    match self.refresh_error {
      Some(e) => Err(e),
      None => Ok(self.answer),
    }
  }
}

/// Sends with `grant`'s token; on a 401 (`status` reads it from an answer) sends once more with
/// the token that replaced it. A static API key is never refreshed, and neither is a token the
/// refresh gave back unchanged: the 401 then stands.
pub async fn with_retry<A, Fut>(
  settings: &Settings,
  grant: Grant,
  status: impl Fn(&A) -> u16,
  mut send: impl FnMut(String) -> Fut,
) -> Result<Retried<A>>
where
  Fut: Future<Output = Result<A>>,
{
  let answer = send(grant.token.clone()).await?;
  if status(&answer) != 401 || grant.source == TokenSource::ApiKey {
    return Ok(Retried {
      answer,
      refresh_error: None,
    });
  }
  match super::token_after_rejection(settings, &grant.token).await {
    Ok(next) if next.token != grant.token => {
      // Let go of the refused answer (and its connection) before the retry.
      drop(answer);
      Ok(Retried {
        answer: send(next.token).await?,
        refresh_error: None,
      })
    }
    Ok(_) => Ok(Retried {
      answer,
      refresh_error: None,
    }),
    Err(e) => Ok(Retried {
      answer,
      refresh_error: Some(e),
    }),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::Options;
  use crate::constants::env;
  use crate::store::file::FileStore;
  use crate::store::Backend;
  use crate::token::StoredLogin;
  use std::sync::Mutex;

  fn settings(home: &std::path::Path) -> Settings {
    let opts = Options {
      home: Some(home.to_string_lossy().into_owned()),
      store: Some("file".into()),
      ..Default::default()
    };
    // The official clients' homes too: no login of this machine's user takes part.
    let inside = home.to_string_lossy().into_owned();
    let env = |k: &str| {
      [env::KIMI_CODE_HOME, env::KIMI_SHARE_DIR]
        .contains(&k)
        .then(|| inside.clone())
    };
    Settings::resolve_with(&opts, &env).unwrap()
  }

  fn grant(token: &str, source: TokenSource) -> Grant {
    Grant {
      token: token.into(),
      source,
      expires_at: None,
    }
  }

  /// Sends answer `statuses` in turn and records the token of each call.
  async fn run(settings: &Settings, grant: Grant, statuses: &[u16]) -> (Result<Retried<u16>>, Vec<String>) {
    let sent = Mutex::new(Vec::new());
    let out = with_retry(
      settings,
      grant,
      |s: &u16| *s,
      |token: String| {
        let mut sent = sent.lock().unwrap();
        sent.push(token);
        let status = statuses[sent.len() - 1];
        async move { Ok(status) }
      },
    )
    .await;
    (out, sent.into_inner().unwrap())
  }

  #[tokio::test]
  async fn a_401_is_retried_once_with_the_token_that_replaced_the_rejected_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    // Another caller already replaced the rejected token: it is adopted, no refresh is sent.
    let newer = StoredLogin {
      access_token: "newer".into(),
      refresh_token: "newer-refresh".into(),
      expires_at: crate::token::now_secs() + 900.0,
      expires_in: 900.0,
      ..Default::default()
    };
    FileStore::new(&s).save(&newer).unwrap();
    let (out, sent) = run(&s, grant("rejected", TokenSource::Native), &[401, 401]).await;
    let out = out.unwrap();
    assert_eq!((out.answer, out.refresh_error.is_none()), (401, true));
    assert_eq!(sent, ["rejected", "newer"], "one retry, never more");
  }

  #[tokio::test]
  async fn a_static_api_key_is_never_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let (out, sent) = run(&settings(dir.path()), grant("sk-key", TokenSource::ApiKey), &[401]).await;
    let out = out.unwrap();
    assert_eq!((out.answer, out.refresh_error.is_none()), (401, true));
    assert_eq!(sent, ["sk-key"]);
  }

  #[tokio::test]
  async fn a_failed_refresh_leaves_the_401_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (out, sent) = run(&settings(dir.path()), grant("rejected", TokenSource::Native), &[401]).await;
    let out = out.unwrap();
    assert_eq!(out.answer, 401);
    assert_eq!(sent, ["rejected"]);
    let e = out.or_refresh_error().unwrap_err();
    assert_eq!(e.code, crate::error::Code::NotLoggedIn);
  }
}
