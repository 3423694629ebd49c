//! Cooperative cancellation shared between JS (AbortSignal → `cancel()`) and Rust futures.

use crate::error::{KimiError, Result};
use std::future::Future;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Cancel {
  tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Cancel {
  fn default() -> Self {
    Cancel {
      tx: std::sync::Arc::new(watch::channel(false).0),
    }
  }
}

impl Cancel {
  pub fn cancel(&self) {
    self.tx.send_replace(true);
  }
  pub fn is_cancelled(&self) -> bool {
    *self.tx.borrow()
  }
  pub async fn cancelled(&self) {
    let mut rx = self.tx.subscribe();
    let _ = rx.wait_for(|v| *v).await;
  }
  /// Runs `fut` unless cancellation comes first.
  pub async fn run<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
    if self.is_cancelled() {
      return Err(KimiError::cancelled());
    }
    tokio::select! {
      biased;
      _ = self.cancelled() => Err(KimiError::cancelled()),
      r = fut => r,
    }
  }
  pub async fn sleep(&self, d: std::time::Duration) -> Result<()> {
    self
      .run(async {
        tokio::time::sleep(d).await;
        Ok(())
      })
      .await
  }
}
