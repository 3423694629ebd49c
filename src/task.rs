//! Running blocking work (keychain, file system) from async code.

use crate::error::{KimiError, Result};

/// Runs blocking work off the async runtime, on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
  tokio::task::spawn_blocking(f)
    .await
    .map_err(|_| KimiError::internal("a background task failed"))?
}
