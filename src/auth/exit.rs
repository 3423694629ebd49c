//! Exiting while a refresh is in flight costs nothing. A refresh that has sent its token
//! request has spent the old refresh token on the server, so its answer must be persisted
//! before the process ends; one that has not sent it yet can simply be dropped.
//!
//! A host's `process.exit()` runs the JS `exit` hook, which calls [`wait_before_exit`] on the
//! JS thread: from then on no refresh sends a request, and the call blocks, bounded, until the
//! refreshes already sent have persisted their answer. Those run on the core's own threads
//! (tokio worker, blocking pool, keychain threads) and never need the JS thread. A login held
//! only in memory because the store refused it (auth/unsaved.rs) gets one last write attempt.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
  exiting: bool,
  /// Refreshes whose request went out and whose answer is not persisted yet.
  sent: usize,
  /// Background writes of a memory-only login that are still running.
  retrying: usize,
}

fn state() -> &'static (Mutex<State>, Condvar) {
  static STATE: OnceLock<(Mutex<State>, Condvar)> = OnceLock::new();
  STATE.get_or_init(Default::default)
}

fn lock() -> MutexGuard<'static, State> {
  state().0.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held from just before a token request is sent until its answer is persisted (or the attempt
/// failed); the exit wait lasts while any is held.
pub(crate) struct Sent(());

impl Drop for Sent {
  fn drop(&mut self) {
    lock().sent -= 1;
    state().1.notify_all();
  }
}

/// Held by a background write of a memory-only login while it runs: an exit wakes it for one
/// last attempt and waits for that.
pub(crate) struct Retrying(());

impl Drop for Retrying {
  fn drop(&mut self) {
    lock().retrying -= 1;
    state().1.notify_all();
  }
}

pub(crate) fn begin_retry() -> Retrying {
  lock().retrying += 1;
  Retrying(())
}

pub(crate) fn exiting() -> bool {
  lock().exiting
}

/// Woken when the process starts exiting (background writes make their last attempt).
pub(crate) fn exit_started() -> &'static tokio::sync::Notify {
  static NOTIFY: OnceLock<tokio::sync::Notify> = OnceLock::new();
  NOTIFY.get_or_init(tokio::sync::Notify::new)
}

/// Permission to send a token request: `None` once the process is exiting (the request is not
/// sent, so nothing is lost).
pub(crate) fn begin_send() -> Option<Sent> {
  let mut st = lock();
  if st.exiting {
    return None;
  }
  st.sent += 1;
  Some(Sent(()))
}

/// Stops new token requests and waits up to `bound` for the ones in flight to be persisted
/// (and for a memory-only login's last write attempt). Returns how many were still unfinished
/// at the bound (0: nothing was lost).
pub fn wait_before_exit(bound: Duration) -> usize {
  let deadline = Instant::now() + bound;
  let mut st = lock();
  st.exiting = true;
  exit_started().notify_waiters();
  while st.sent + st.retrying > 0 {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
      break;
    }
    st = state().1.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
  }
  st.sent + st.retrying
}

/// How long an exit may wait: one token request's time limit, then the write (a keychain that
/// times out, its retries and the fallback file).
pub fn exit_bound(keychain_timeout: Duration) -> Duration {
  Duration::from_secs(crate::constants::OAUTH_HTTP_TIMEOUT_SECS) + keychain_timeout * 4 + Duration::from_secs(1)
}
