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
