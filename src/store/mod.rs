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

/// Which backend a login was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
  Primary,
  Fallback,
}

impl ResolvedStore {
  /// The stored login and where it was found. A login in the fallback file wins over the
  /// keychain's: the file is written only when a keychain write failed (so it holds the newer
  /// rotation) and is removed by the next successful keychain write.
  pub fn load_with_origin(&self) -> Result<Option<(StoredLogin, Origin)>> {
    if let Some(fb) = &self.fallback {
      if let Ok(Some(found)) = fb.load() {
        return Ok(Some((found, Origin::Fallback)));
      }
    }
    Ok(self.backend.load()?.map(|l| (l, Origin::Primary)))
  }

  pub fn load(&self) -> Result<Option<StoredLogin>> {
    Ok(self.load_with_origin()?.map(|(l, _)| l))
  }

  /// Writes to the fallback file only (after the keychain refused a write).
  pub fn save_fallback(&self, login: &StoredLogin) -> Result<()> {
    match &self.fallback {
      Some(fb) => fb.save(login),
      None => Err(KimiError::store("There is no fallback store for this login.")),
    }
  }

  /// Where the fallback file is, for messages.
  pub fn fallback_kind(&self) -> Option<&'static str> {
    self.fallback.as_ref().map(|f| f.kind())
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
