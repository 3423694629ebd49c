//! Taking over Kimi logins other plugins hold.

use super::options::settings;
use super::spawn_coded;
use crate::{import, task};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

/// A Kimi login found in another program's files (never a token).
#[napi(object, use_nullable = true)]
pub struct ImportSource {
  /// What to pass to `importLogin`: `opencode-kimi-auth`, `opencode:<provider id>`,
  /// `pi:<provider id>`, `kimi-code`, `kimi-cli`.
  pub id: String,
  #[napi(ts_type = "'opencode' | 'pi' | 'kimi-code' | 'kimi-cli'")]
  pub host: String,
  /// Who writes this login.
  pub plugin: String,
  pub file: String,
  /// Key in a shared auth.json.
  pub entry: Option<String>,
  pub has_refresh_token: bool,
  /// Access-token expiry, epoch seconds, as the source records it.
  pub expires_at: Option<f64>,
  pub importable: bool,
  /// Why it can or cannot be taken over.
  pub reason: String,
  /// What `importLogin` does to the source.
  #[napi(ts_type = "'marker' | 'remove' | 'move-aside'")]
  pub handover: Option<String>,
  /// The entry already holds kimi-native's marker (handed over before).
  pub marker: bool,
}

impl From<import::Found> for ImportSource {
  fn from(f: import::Found) -> Self {
    ImportSource {
      id: f.id,
      host: f.host.into(),
      plugin: f.plugin,
      file: f.file,
      entry: f.entry,
      has_refresh_token: f.has_refresh_token,
      expires_at: f.expires_at,
      importable: f.importable,
      reason: f.reason,
      handover: f.handover.map(Into::into),
      marker: f.marker,
    }
  }
}

/// A source that held the login chain, and its backup (or, for `move-aside`, where it went).
#[napi(object)]
pub struct HandedOver {
  pub id: String,
  pub file: String,
  #[napi(ts_type = "'marker' | 'remove' | 'move-aside'")]
  pub action: String,
  pub backup: String,
}

#[napi(object, use_nullable = true)]
pub struct ImportResult {
  pub source: ImportSource,
  /// Every source that held the chain.
  pub handed_over: Vec<HandedOver>,
  pub expires_at: f64,
  #[napi(ts_type = "'keychain' | 'file'")]
  pub store: String,
  pub store_reason: String,
  /// The login was taken over, but a source could not be changed (what to do is said).
  pub warning: Option<String>,
  pub profile: String,
}

/// Kimi logins other plugins hold on this machine (no secrets), and which can be taken over.
#[napi]
pub fn import_sources(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Vec<ImportSource>>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let loc = import::Locations::from_process(&s);
    let found = task::blocking(move || Ok(import::list(&loc))).await?;
    Ok(found.into_iter().map(Into::into).collect())
  })
}

/// Takes over the login `source` names: one refresh, stored by kimi-native, source handed over.
#[napi]
pub fn import_login(env: Env, source: String, options: Option<Value>) -> napi::Result<AsyncBlock<ImportResult>> {
  spawn_coded(&env, async move {
    let s = settings(&options)?;
    let loc = import::Locations::from_process(&s);
    let out = import::import(&s, &loc, &source).await?;
    Ok(ImportResult {
      source: out.source.into(),
      handed_over: out
        .handed_over
        .into_iter()
        .map(|h| HandedOver {
          id: h.id,
          file: h.file,
          action: h.action.into(),
          backup: h.backup,
        })
        .collect(),
      expires_at: out.expires_at,
      store: out.store.into(),
      store_reason: out.store_reason,
      warning: out.warning,
      profile: s.profile.as_str().into(),
    })
  })
}
