//! Shared reqwest clients (one connection pool per timeout pair): rustls with the `ring`
//! provider (cross-compiles cleanly), the OS trust store plus `SSL_CERT_FILE`, and the
//! standard proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), read
//! when the client is first built — the way curl users expect. A system with no CA
//! certificates at all (a bare container) gets Mozilla's roots, as Node's bundled store does,
//! instead of a client that cannot even be built.

use crate::error::{KimiError, Result};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 300_000;

fn install_crypto_provider() {
  static ONCE: OnceLock<()> = OnceLock::new();
  ONCE.get_or_init(|| {
    let _ = rustls::crypto::ring::default_provider().install_default();
  });
}

/// Follows at most 5 redirects and only within one origin: a credential (Bearer or
/// x-api-key) must never be replayed to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
  reqwest::redirect::Policy::custom(|attempt| {
    let first = attempt.previous().first().map(|u| u.origin());
    if attempt.previous().len() > 5 {
      attempt.error("too many redirects")
    } else if first.as_ref() != Some(&attempt.url().origin()) {
      attempt.stop()
    } else {
      attempt.follow()
    }
  })
}

/// Builds a client from `configure` with the system's trust store; when that cannot be built
/// (the platform verifier refuses to start without a single system CA certificate), with
/// Mozilla's roots instead. Verification stays on either way; the system's error is the one
/// reported when neither works.
fn build(configure: impl Fn() -> reqwest::ClientBuilder) -> Result<reqwest::Client> {
  install_crypto_provider();
  let system = configure().referer(false).build();
  system
    .or_else(|first| {
      let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok());
      configure()
        .referer(false)
        .tls_certs_only(mozilla)
        .build()
        .map_err(|_| first)
    })
    .map_err(|e| KimiError::network("Setting up HTTPS", &e))
}

pub fn client(connect_ms: u64, read_ms: u64) -> Result<reqwest::Client> {
  cached(connect_ms, read_ms, true)
}

/// The client of `kimi fetch`, which follows redirects itself (per-request `redirect` mode).
pub fn fetch_client(connect_ms: u64, read_ms: u64) -> Result<reqwest::Client> {
  cached(connect_ms, read_ms, false)
}

/// (connect ms, read ms, follows redirects itself).
type ClientKey = (u64, u64, bool);

fn cached(connect_ms: u64, read_ms: u64, follow: bool) -> Result<reqwest::Client> {
  static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
  let clients = CLIENTS.get_or_init(Default::default);
  let mut map = clients.lock().unwrap_or_else(|e| e.into_inner());
  if let Some(c) = map.get(&(connect_ms, read_ms, follow)) {
    return Ok(c.clone());
  }
  let built = build(|| {
    reqwest::Client::builder()
      .connect_timeout(Duration::from_millis(connect_ms.max(1)))
      .read_timeout(Duration::from_millis(read_ms.max(1)))
      .pool_idle_timeout(Duration::from_secs(90))
      .redirect(if follow {
        same_origin_redirects()
      } else {
        reqwest::redirect::Policy::none()
      })
  })?;
  map.insert((connect_ms, read_ms, follow), built.clone());
  Ok(built)
}

/// The client for OAuth, /models and /usages.
pub fn default_client() -> Result<reqwest::Client> {
  client(DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_READ_TIMEOUT_MS)
}

/// The client for the OAuth server: no idle connection is kept. Its calls are seconds apart
/// (device polling) or minutes apart (refresh), longer than load balancers keep idle
/// connections, and a request sent on a connection the server is closing fails.
pub fn oauth_client() -> Result<reqwest::Client> {
  static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
  if let Some(c) = CLIENT.get() {
    return Ok(c.clone());
  }
  let built = build(|| {
    reqwest::Client::builder()
      .connect_timeout(Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS))
      .read_timeout(Duration::from_millis(DEFAULT_READ_TIMEOUT_MS))
      .pool_max_idle_per_host(0)
      .redirect(same_origin_redirects())
  })?;
  Ok(CLIENT.get_or_init(|| built).clone())
}

/// Parses `Retry-After` (seconds form; the HTTP-date form is rare on APIs and ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<f64> {
  headers
    .get(reqwest::header::RETRY_AFTER)?
    .to_str()
    .ok()?
    .trim()
    .parse::<f64>()
    .ok()
    .filter(|s| *s >= 0.0)
}
