//! One credential-store interface, three choices: the OS keychain, a 0600 JSON file, and
//! `auto` (keychain, else file — announced, with the reason).

pub mod file;
pub mod keychain;

use crate::config::{Settings, StoreKind};
use crate::error::{Code, KimiError, Result};
use crate::token::StoredLogin;
use std::sync::Arc;

/// A blocking backend; callers run it off the async runtime (keychain calls may block).
pub trait Backend: Send + Sync {
  fn kind(&self) -> &'static str;
  fn load(&self) -> Result<Option<StoredLogin>>;
  fn save(&self, login: &StoredLogin) -> Result<()>;
  fn delete(&self) -> Result<bool>;
}

#[derive(Clone)]
pub struct ResolvedStore {
  pub backend: Arc<dyn Backend>,
  /// The file store, when `auto` fell back to it or may hold an older fallback copy.
  pub fallback: Option<Arc<dyn Backend>>,
  pub kind: &'static str,
  pub reason: String,
}

impl ResolvedStore {
  pub fn load(&self) -> Result<Option<StoredLogin>> {
    if let Some(found) = self.backend.load()? {
      return Ok(Some(found));
    }
    match &self.fallback {
      Some(fb) => fb.load(),
      None => Ok(None),
    }
  }

  pub fn save(&self, login: &StoredLogin) -> Result<()> {
    self.backend.save(login)?;
    // Once the keychain holds the login, a plaintext fallback copy must not linger.
    if let Some(fb) = &self.fallback {
      let _ = fb.delete();
    }
    Ok(())
  }

  pub fn delete(&self) -> Result<bool> {
    let mut removed = self.backend.delete()?;
    if let Some(fb) = &self.fallback {
      removed |= fb.delete()?;
    }
    Ok(removed)
  }
}

/// Picks the backend for these settings. May block (keychain probe): call off the runtime.
pub fn resolve(settings: &Settings) -> Result<ResolvedStore> {
  let file: Arc<dyn Backend> = Arc::new(file::FileStore::new(settings));
  match settings.store {
    StoreKind::File => Ok(ResolvedStore {
      backend: file,
      fallback: None,
      kind: "file",
      reason: format!("file store selected ({})", settings.store_source.describe()),
    }),
    StoreKind::Keychain => {
      let kc = keychain::KeychainStore::new(settings);
      kc.probe().map_err(|e| {
        KimiError::new(
          Code::KeychainUnavailable,
          format!(
            "The OS keychain is not usable: {}. Unlock it, or choose the file store with --store file / KIMI_NATIVE_STORE=file.",
            e.message
          ),
        )
      })?;
      Ok(ResolvedStore {
        backend: Arc::new(kc),
        fallback: None,
        kind: "keychain",
        reason: format!("{} selected ({})", keychain::NAME, settings.store_source.describe()),
      })
    }
    StoreKind::Auto => {
      let kc = keychain::KeychainStore::new(settings);
      match kc.probe() {
        Ok(()) => Ok(ResolvedStore {
          backend: Arc::new(kc),
          fallback: Some(file),
          kind: "keychain",
          reason: format!("{} is available", keychain::NAME),
        }),
        Err(e) => Ok(ResolvedStore {
          backend: file,
          fallback: None,
          kind: "file",
          reason: format!(
            "{} unavailable ({}); using a 0600 file in {}",
            keychain::NAME,
            e.message,
            settings.home.display()
          ),
        }),
      }
    }
  }
}
