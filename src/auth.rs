//! Token lifecycle: where a token comes from (own store, `KIMI_API_KEY`, the official clients'
//! files read-only), refresh-ahead, single-flight refresh in process, an OS file lock across
//! processes, and the device login that creates the login in the first place.

use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants::{self as c, env};
use crate::error::{Code, KimiError, Result};
use crate::lock::FileLock;
use crate::models::{self, ModelInfo};
use crate::oauth::{DeviceAuthorization, OAuthClient, PollOutcome, RefreshFailure};
use crate::store::{self, ResolvedStore};
use crate::token::{needs_refresh, now_secs, parse_official, StoredLogin};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a refresh may wait for another process holding the lock (kimi-code: ~90 s).
const LOCK_DEADLINE: Duration = Duration::from_secs(90);
/// Official-client tokens are used only while they stay valid for at least this long.
const OFFICIAL_MIN_VALIDITY: f64 = 30.0;

/// Runs blocking work (keychain, file system) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
  tokio::task::spawn_blocking(f)
    .await
    .map_err(|_| KimiError::internal("a background task failed"))?
}

fn refresh_floor() -> f64 {
  std::env::var(env::REFRESH_FLOOR_SECS)
    .ok()
    .and_then(|v| v.trim().parse().ok())
    .unwrap_or(c::REFRESH_FLOOR_SECS)
}

/// Per-login state shared by every caller in this process.
struct Session {
  store: tokio::sync::OnceCell<ResolvedStore>,
  cache: Mutex<Option<StoredLogin>>,
  /// When the store was last found empty. Callers that run on `KIMI_API_KEY` or an official
  /// client's login would otherwise read the store (a keychain round trip) on every request.
  absent_since: Mutex<Option<Instant>>,
  refresh: tokio::sync::Mutex<()>,
}

/// How long "no login stored" is believed before the store is read again (a login made by
/// another process shows up within this time).
const ABSENT_RECHECK: Duration = Duration::from_secs(5);

fn session(settings: &Settings) -> Arc<Session> {
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
        cache: Mutex::new(None),
        absent_since: Mutex::new(None),
        refresh: tokio::sync::Mutex::new(()),
      })
    })
    .clone()
}

impl Session {
  async fn store(&self, settings: &Settings) -> Result<ResolvedStore> {
    let s = settings.clone();
    self
      .store
      .get_or_try_init(|| blocking(move || store::resolve(&s)))
      .await
      .cloned()
  }
  fn cached(&self) -> Option<StoredLogin> {
    self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone()
  }
  fn set_cache(&self, v: Option<StoredLogin>) {
    *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = v;
    *self.absent_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
  }
  fn recently_absent(&self) -> bool {
    let since = *self.absent_since.lock().unwrap_or_else(|e| e.into_inner());
    since.is_some_and(|t| t.elapsed() < ABSENT_RECHECK)
  }
  async fn load(&self, settings: &Settings) -> Result<Option<StoredLogin>> {
    let st = self.store(settings).await?;
    let loaded = blocking(move || st.load()).await?;
    self.set_cache(loaded.clone().filter(|l| l.relogin_reason.is_none()));
    if loaded.is_none() {
      *self.absent_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    Ok(loaded)
  }
  /// The login held in memory, else the store's; an empty store is re-read only every
  /// [`ABSENT_RECHECK`].
  async fn current(&self, settings: &Settings) -> Result<Option<StoredLogin>> {
    match self.cached() {
      Some(l) => Ok(Some(l)),
      None if self.recently_absent() => Ok(None),
      None => self.load(settings).await,
    }
  }
  async fn save(&self, settings: &Settings, login: StoredLogin) -> Result<()> {
    let st = self.store(settings).await?;
    let to_save = login.clone();
    blocking(move || st.save(&to_save)).await?;
    self.set_cache(Some(login).filter(|l| l.relogin_reason.is_none()));
    Ok(())
  }
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
  Native,
  ApiKey,
  KimiCode,
  KimiCli,
}

impl TokenSource {
  pub fn as_str(self) -> &'static str {
    match self {
      TokenSource::Native => "kimi-native",
      TokenSource::ApiKey => "env:KIMI_API_KEY",
      TokenSource::KimiCode => "kimi-code",
      TokenSource::KimiCli => "kimi-cli",
    }
  }
}

#[derive(Clone)]
pub struct Grant {
  pub token: String,
  pub source: TokenSource,
  pub expires_at: Option<f64>,
}

fn api_key() -> Option<String> {
  std::env::var(env::API_KEY)
    .ok()
    .map(|k| k.trim().to_string())
    .filter(|k| !k.is_empty())
}

/// Official clients' credential files, read-only and only while valid (rotating their refresh
/// chain would log the official client out).
pub fn official_logins(settings: &Settings) -> Vec<(TokenSource, StoredLogin)> {
  if std::env::var(env::DISABLE_OFFICIAL).map(|v| v == "1").unwrap_or(false) {
    return vec![];
  }
  let home = crate::config::home_dir();
  let code_home = std::env::var_os(env::KIMI_CODE_HOME)
    .map(Into::into)
    .or_else(|| home.as_ref().map(|h| h.join(c::KIMI_CODE_HOME_DIR)));
  let cli_home = std::env::var_os(env::KIMI_SHARE_DIR)
    .map(Into::into)
    .or_else(|| home.as_ref().map(|h| h.join(c::KIMI_CLI_HOME_DIR)));
  let mut candidates: Vec<(TokenSource, std::path::PathBuf)> = vec![];
  if let Some(h) = code_home {
    // kimi-code names the file after the host/base pair, as our slot does.
    candidates.push((
      TokenSource::KimiCode,
      h.join("credentials").join(format!("{}.json", settings.slot())),
    ));
  }
  if let Some(h) = cli_home {
    candidates.push((TokenSource::KimiCli, h.join(c::OFFICIAL_CREDENTIALS_FILE)));
  }
  candidates
    .into_iter()
    .filter_map(|(src, path)| {
      std::fs::read_to_string(path)
        .ok()
        .and_then(|t| parse_official(&t))
        .map(|l| (src, l))
    })
    .collect()
}

fn usable_official(settings: &Settings) -> Option<Grant> {
  let now = now_secs();
  official_logins(settings).into_iter().find_map(|(source, l)| {
    (!l.access_token.is_empty() && l.expires_at - now > OFFICIAL_MIN_VALIDITY).then_some(Grant {
      token: l.access_token,
      source,
      expires_at: Some(l.expires_at),
    })
  })
}

/// A fresh access token. `force` refreshes even when the token looks fresh (after a 401),
/// unless another caller already replaced the token we held.
pub async fn access_token(settings: &Settings, force: bool) -> Result<Grant> {
  let sess = session(settings);
  let held = sess.current(settings).await?;
  let mut relogin: Option<String> = None;
  if let Some(login) = held {
    if let Some(reason) = &login.relogin_reason {
      relogin = Some(reason.clone());
    } else if !force && !needs_refresh(&login, now_secs(), refresh_floor()) {
      return Ok(Grant {
        token: login.access_token,
        source: TokenSource::Native,
        expires_at: Some(login.expires_at),
      });
    } else {
      return refresh(settings, &sess, &login.access_token, force).await;
    }
  }
  if let Some(key) = api_key() {
    return Ok(Grant {
      token: key,
      source: TokenSource::ApiKey,
      expires_at: None,
    });
  }
  if let Some(g) = usable_official(settings) {
    return Ok(g);
  }
  match relogin {
    Some(reason) => Err(KimiError::relogin(&reason)),
    None => Err(KimiError::not_logged_in()),
  }
}

async fn refresh(settings: &Settings, sess: &Session, stale: &str, force: bool) -> Result<Grant> {
  let native = |l: &StoredLogin| Grant {
    token: l.access_token.clone(),
    source: TokenSource::Native,
    expires_at: Some(l.expires_at),
  };
  let floor = refresh_floor();
  let _in_process = sess.refresh.lock().await;
  // Another task of this process may have refreshed while we waited.
  if let Some(l) = sess.cached() {
    if l.access_token != stale && !needs_refresh(&l, now_secs(), floor) {
      return Ok(native(&l));
    }
  }
  let lock_path = settings.home.join("locks").join(format!("{}.lock", settings.slot()));
  let _cross_process = FileLock::acquire(&lock_path, LOCK_DEADLINE).await?;
  // Re-read under the lock: another process may have rotated the token already.
  let Some(current) = sess.load(settings).await? else {
    return Err(KimiError::not_logged_in());
  };
  if let Some(reason) = &current.relogin_reason {
    return Err(KimiError::relogin(reason));
  }
  let fresh = !needs_refresh(&current, now_secs(), floor);
  if fresh && (current.access_token != stale || !force) {
    return Ok(native(&current));
  }
  let oauth = OAuthClient::new(settings)?;
  let mut attempt = 0;
  let outcome = loop {
    match oauth.refresh(&current.refresh_token).await {
      Err(RefreshFailure::Transient(e)) if attempt + 1 < c::REFRESH_ATTEMPTS => {
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        attempt += 1;
        let _ = e;
      }
      other => break other,
    }
  };
  match outcome {
    Ok(mut login) => {
      login.oauth_host = Some(settings.oauth_host.clone());
      sess.save(settings, login.clone()).await?;
      spawn_model_discovery(settings.clone());
      Ok(native(&login))
    }
    Err(RefreshFailure::Unauthorized(detail)) => {
      // kimi-code: wait briefly and re-read; adopt a token another process rotated.
      tokio::time::sleep(Duration::from_millis(100)).await;
      if let Some(again) = sess.load(settings).await? {
        if again.refresh_token != current.refresh_token && again.relogin_reason.is_none() {
          return Ok(native(&again));
        }
      }
      let mut marked = current.clone();
      marked.relogin_reason = Some(format!("the server refused the refresh token: {detail}"));
      sess.save(settings, marked).await?;
      Err(KimiError::relogin(&format!(
        "the server refused the refresh token: {detail}"
      )))
    }
    // A refresh-ahead that fails transiently must not break requests while the token works.
    Err(RefreshFailure::Transient(e)) | Err(RefreshFailure::Fatal(e)) => {
      if !force && current.expires_at - now_secs() > 5.0 {
        Ok(native(&current))
      } else {
        Err(e)
      }
    }
  }
}

fn spawn_model_discovery(settings: Settings) {
  if let Ok(handle) = tokio::runtime::Handle::try_current() {
    handle.spawn(async move {
      let _ = discover_models(&settings, None).await;
    });
  }
}

/// Request headers for `/models` per profile (kimi-wire §5.2): see `identity::api_headers`.
fn models_request(settings: &Settings, http: &reqwest::Client, token: &str) -> reqwest::RequestBuilder {
  crate::identity::api_request(settings, http, crate::identity::Endpoint::Models, token)
}

/// GETs an API endpoint with a fresh token, forcing one refresh on 401 (as both clients do).
async fn get_json(
  settings: &Settings,
  token: Option<String>,
  build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
  what: &str,
) -> Result<serde_json::Value> {
  let http = crate::http::default_client()?;
  let mut grant_token = match token {
    Some(t) => t,
    None => access_token(settings, false).await?.token,
  };
  for attempt in 0..2 {
    let resp = build(&http, &grant_token)
      .timeout(Duration::from_secs(30))
      .send()
      .await
      .map_err(|e| KimiError::network(what, &e))?;
    let status = resp.status().as_u16();
    let retry = crate::http::retry_after(resp.headers());
    let text = resp.text().await.map_err(|e| KimiError::network(what, &e))?;
    if status == 401 && attempt == 0 {
      match access_token(settings, true).await {
        Ok(g) if g.token != grant_token => {
          grant_token = g.token;
          continue;
        }
        Ok(_) => {}
        Err(e) => return Err(e),
      }
    }
    if let Some(e) = crate::api_error::classify(status, &text, retry, settings) {
      return Err(e);
    }
    return serde_json::from_str(&text).map_err(|_| {
      KimiError::new(
        Code::Server,
        format!("{what}: the server sent invalid JSON (HTTP {status})."),
      )
    });
  }
  Err(KimiError::relogin("the API kept rejecting the token"))
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
  // Per profile (kimi-wire §5.2): see `identity::api_headers`.
  get_json(
    settings,
    None,
    |http, t| crate::identity::api_request(settings, http, crate::identity::Endpoint::Usages, t),
    "Reading Kimi usage",
  )
  .await
}

pub trait LoginEvents: Send + Sync {
  fn device_code(&self, code: &DeviceAuthorization);
  fn event(&self, kind: &str, interval: Option<u64>);
}

pub struct LoginOutcome {
  pub store: &'static str,
  pub store_reason: String,
  pub expires_at: f64,
  pub models: Vec<ModelInfo>,
  pub warning: Option<String>,
}

fn login_budget() -> Duration {
  let secs = std::env::var(env::LOGIN_BUDGET_SECS)
    .ok()
    .and_then(|v| v.trim().parse().ok())
    .unwrap_or(c::DEVICE_LOGIN_BUDGET_SECS);
  Duration::from_secs(secs)
}

/// RFC 8628 device login as kimi-code does it: poll at once, then every `interval`; slow_down
/// adds 5 s for good; expired_token starts a new code within a 15-minute budget; access_denied
/// ends it. The token is stored, then models are discovered and cached.
pub async fn login(settings: &Settings, events: &dyn LoginEvents, cancel: &Cancel) -> Result<LoginOutcome> {
  let sess = session(settings);
  let store = sess.store(settings).await?;
  let oauth = OAuthClient::new(settings)?;
  let deadline = tokio::time::Instant::now() + login_budget();
  let expired = || {
    KimiError::new(
      Code::LoginExpired,
      format!(
        "The login was not approved within {} minutes. Run `npx kimi-native login` again.",
        login_budget().as_secs() / 60
      ),
    )
  };
  let login = 'outer: loop {
    if tokio::time::Instant::now() >= deadline {
      return Err(expired());
    }
    let code = cancel.run(oauth.device_authorization()).await?;
    events.device_code(&code);
    let mut interval = code.interval;
    loop {
      match cancel.run(oauth.poll(&code.device_code)).await? {
        PollOutcome::Token(t) => break 'outer t,
        PollOutcome::Pending => {}
        PollOutcome::SlowDown => {
          interval += c::SLOW_DOWN_STEP_SECS;
          events.event("slow_down", Some(interval));
        }
        PollOutcome::Expired => {
          events.event("restart", None);
          continue 'outer;
        }
        PollOutcome::Denied(desc) => {
          return Err(KimiError::new(
            Code::LoginDenied,
            format!("The login was denied in the browser ({desc}). Run `npx kimi-native login` to try again."),
          ))
        }
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
  sess.save(settings, login.clone()).await?;
  let (models, warning) = match discover_models(settings, Some(login.access_token.clone())).await {
    Ok(m) => (m, None),
    Err(e) => (
      vec![],
      Some(format!("Logged in, but listing models failed: {}", e.message)),
    ),
  };
  Ok(LoginOutcome {
    store: store.kind,
    store_reason: store.reason,
    expires_at: login.expires_at,
    models,
    warning,
  })
}

pub async fn logout(settings: &Settings) -> Result<bool> {
  let sess = session(settings);
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

pub struct StatusReport {
  pub logged_in: bool,
  pub source: &'static str,
  pub store: &'static str,
  pub store_reason: String,
  pub expires_at: Option<f64>,
  pub relogin_required: bool,
  pub relogin_reason: Option<String>,
  pub model: Option<ModelInfo>,
}

pub async fn status(settings: &Settings) -> Result<StatusReport> {
  let sess = session(settings);
  let st = sess.store(settings).await?;
  let (kind, reason) = (st.kind, st.reason.clone());
  let stored = sess.load(settings).await?;
  let s = settings.clone();
  let model = blocking(move || Ok(models::load_cache(&s)))
    .await?
    .and_then(|m| models::default_model(&m).cloned());
  let now = now_secs();
  let mut report = StatusReport {
    logged_in: false,
    source: "none",
    store: kind,
    store_reason: reason,
    expires_at: None,
    relogin_required: false,
    relogin_reason: None,
    model,
  };
  if let Some(l) = &stored {
    report.expires_at = Some(l.expires_at);
    if let Some(r) = &l.relogin_reason {
      report.relogin_required = true;
      report.relogin_reason = Some(r.clone());
    } else {
      report.logged_in = true;
      report.source = TokenSource::Native.as_str();
      return Ok(report);
    }
  }
  if api_key().is_some() {
    report.logged_in = true;
    report.source = TokenSource::ApiKey.as_str();
  } else if let Some(g) = usable_official(settings) {
    report.logged_in = true;
    report.source = g.source.as_str();
    report.expires_at = g.expires_at;
  }
  let _ = now;
  Ok(report)
}
