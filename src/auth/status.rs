//! What `status()` reports: which login is in force, where it is stored, and why not when not.

use super::session::session;
use super::sources::{self, TokenSource};
use crate::config::Settings;
use crate::error::Result;
use crate::models::{self, ModelInfo};
use crate::store::Origin;
use crate::task::blocking;

pub struct StatusReport {
  pub logged_in: bool,
  pub source: &'static str,
  pub store: &'static str,
  pub store_reason: String,
  pub expires_at: Option<f64>,
  pub relogin_required: bool,
  pub relogin_reason: Option<String>,
  pub model: Option<ModelInfo>,
  /// Why no credential may be used with these settings (the origin rule), when that is so.
  pub untrusted_origin: Option<String>,
  /// The login in force is held only in this process's memory: the store refused its write
  /// (`store_reason` says why; the write is being retried).
  pub unsaved: bool,
}

pub async fn status(settings: &Settings) -> Result<StatusReport> {
  let sess = session(settings);
  let st = sess.store(settings).await?;
  let stored = sess.read_store(settings).await?;
  // A login that only this process holds (the store refused its write) is this process's login,
  // newer than the store's.
  let unsaved = sess
    .unsaved()
    .filter(|u| u.store_unchanged(stored.as_ref().map(|(l, _)| l)));
  let stored = match (stored, sess.cached()) {
    (_, Some(cached)) if unsaved.is_some() => Some((cached, None)),
    (Some((l, origin)), _) => Some((l, Some(origin))),
    (None, Some(cached)) => Some((cached, None)),
    (None, None) => None,
  };
  let s = settings.clone();
  let model = blocking(move || Ok(models::load_cache(&s)))
    .await?
    .and_then(|m| models::default_model(&m).cloned());
  let (store, reason) = match stored.as_ref().and_then(|(_, o)| *o) {
    Some(Origin::Fallback) => (
      st.fallback_kind().unwrap_or(st.kind),
      sess.store_note().unwrap_or_else(|| {
        format!(
          "the {} refused a write earlier; the login is in a 0600 file in {}",
          crate::store::keychain::NAME,
          settings.home.display()
        )
      }),
    ),
    _ => (st.kind, sess.store_note().unwrap_or(st.reason.clone())),
  };
  let mut report = StatusReport {
    logged_in: false,
    source: "none",
    store,
    store_reason: reason,
    expires_at: None,
    relogin_required: false,
    relogin_reason: None,
    model,
    untrusted_origin: settings.origin_refusal().map(|e| e.message),
    unsaved: unsaved.is_some(),
  };
  if report.untrusted_origin.is_some() {
    return Ok(report);
  }
  if let Some((l, _)) = &stored {
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
  if sources::api_key(settings).is_some() {
    report.logged_in = true;
    report.source = TokenSource::ApiKey.as_str();
  } else if let Some(g) = sources::usable_official(settings) {
    report.logged_in = true;
    report.source = g.source.as_str();
    report.expires_at = g.expires_at;
  }
  Ok(report)
}
