//! The account's own endpoints that the core calls itself: `/models` (cached per account) and
//! `/usages`, each with one forced refresh and one retry on 401 as both official clients do.

use super::retry::with_retry;
use crate::config::Settings;
use crate::error::{Code, KimiError, Result};
use crate::models::{self, ModelInfo};
use crate::task::blocking;
use std::time::Duration;

const API_TIMEOUT: Duration = Duration::from_secs(30);

/// Request headers for `/models` per profile (docs/kimi-wire.md §5.2): see `identity::api_headers`.
fn models_request(settings: &Settings, http: &reqwest::Client, token: &str) -> reqwest::RequestBuilder {
  crate::identity::api_request(settings, http, crate::identity::Endpoint::Models, token)
}

/// One answer: status, `Retry-After`, body text.
type Answer = (u16, Option<f64>, String);

/// GETs an API endpoint. Without a given token it takes the current one and, on 401, names it
/// as rejected for one refresh and one retry ([`with_retry`]). A given token (right after login)
/// is used as is: such calls never start a refresh.
async fn get_json(
  settings: &Settings,
  token: Option<String>,
  build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
  what: &str,
) -> Result<serde_json::Value> {
  let http = crate::http::default_client()?;
  let send = |token: String| {
    let rb = build(&http, &token).timeout(API_TIMEOUT);
    async move {
      let resp = rb.send().await.map_err(|e| KimiError::network(what, &e))?;
      let status = resp.status().as_u16();
      let retry = crate::http::retry_after(resp.headers());
      let text = resp.text().await.map_err(|e| KimiError::network(what, &e))?;
      Ok::<Answer, KimiError>((status, retry, text))
    }
  };
  let (status, retry, text) = match token {
    Some(t) => send(t).await?,
    None => {
      let grant = super::access_token(settings).await?;
      with_retry(settings, grant, |a: &Answer| a.0, send)
        .await?
        .or_refresh_error()?
    }
  };
  if let Some(e) = crate::api_error::classify(status, &text, retry, settings) {
    return Err(e);
  }
  serde_json::from_str(&text).map_err(|_| {
    KimiError::new(
      Code::Server,
      format!("{what}: the server sent invalid JSON (HTTP {status})."),
    )
  })
}

pub async fn discover_models(settings: &Settings, token: Option<String>) -> Result<Vec<ModelInfo>> {
  let payload = get_json(
    settings,
    token,
    |http, t| models_request(settings, http, t),
    "Listing Kimi models",
  )
  .await?;
  let list = models::parse_models(&payload)?;
  let (s, l) = (settings.clone(), list.clone());
  let _ = blocking(move || {
    models::save_cache(&s, &l);
    Ok(())
  })
  .await;
  Ok(list)
}

pub async fn list_models(settings: &Settings, refresh: bool) -> Result<Vec<ModelInfo>> {
  if !refresh {
    let s = settings.clone();
    if let Some(cached) = blocking(move || Ok(models::load_cache(&s))).await? {
      return Ok(cached);
    }
  }
  discover_models(settings, None).await
}

pub async fn usage(settings: &Settings) -> Result<serde_json::Value> {
  // Per profile (docs/kimi-wire.md §5.2): see `identity::api_headers`.
  get_json(
    settings,
    None,
    |http, t| crate::identity::api_request(settings, http, crate::identity::Endpoint::Usages, t),
    "Reading Kimi usage",
  )
  .await
}
