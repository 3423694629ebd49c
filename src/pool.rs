//! Large byte buffers (shaped request bodies, copies of host bodies) kept for reuse. A fresh
//! multi-megabyte allocation is fresh pages from the kernel, zero-filled on first touch and
//! unmapped again on free; at agent-turn sizes that cost more than the shaping done in them
//! (measured with `perf` for issue #17). Only big buffers are pooled, and only a few.

use bytes::Bytes;
use std::sync::Mutex;

/// Smaller buffers come from malloc's free lists without touching the kernel.
pub const MIN_POOLED: usize = 128 * 1024;
/// Idle buffers are kept up to this many bytes in all (and never a single bigger one).
const MAX_IDLE_BYTES: usize = 32 << 20;
const MAX_IDLE: usize = 6;
/// New buffers get 1/16 more room, rounded up to this step, so a body that grows a little from
/// one request of a session to the next still fits the buffer the last one used.
const STEP: usize = 256 * 1024;

/// Buffers waiting for reuse, biggest first.
pub struct Pool {
  idle: Mutex<Vec<Vec<u8>>>,
}

static POOL: Pool = Pool::new();

impl Pool {
  const fn new() -> Pool {
    Pool {
      idle: Mutex::new(Vec::new()),
    }
  }

  fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
    self.idle.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// An empty buffer with room for at least `capacity` bytes.
  fn take(&self, capacity: usize) -> Vec<u8> {
    if capacity < MIN_POOLED {
      return Vec::with_capacity(capacity);
    }
    let found = {
      let mut idle = self.idle();
      // The smallest that fits (the list is sorted biggest first).
      let best = idle.iter().rposition(|v| v.capacity() >= capacity);
      best.map(|i| idle.remove(i))
    };
    match found {
      Some(mut v) => {
        v.clear();
        v
      }
      None => Vec::with_capacity((capacity + capacity / 16).div_ceil(STEP) * STEP),
    }
  }

  /// Keeps `v` for reuse; when the pool is full the smallest buffer goes.
  fn give(&self, v: Vec<u8>) {
    if v.capacity() < MIN_POOLED || v.capacity() > MAX_IDLE_BYTES {
      return;
    }
    let mut evicted = Vec::new();
    {
      let mut idle = self.idle();
      let at = idle.partition_point(|x| x.capacity() >= v.capacity());
      idle.insert(at, v);
      while idle.len() > MAX_IDLE || idle.iter().map(Vec::capacity).sum::<usize>() > MAX_IDLE_BYTES {
        evicted.extend(idle.pop());
      }
    }
    // Freed outside the lock.
    drop(evicted);
  }
}

/// An empty buffer with room for at least `capacity` bytes.
pub fn take(capacity: usize) -> Vec<u8> {
  POOL.take(capacity)
}

/// Hands a buffer back for reuse.
pub fn give(v: Vec<u8>) {
  POOL.give(v)
}

/// `v` as `Bytes` that return their buffer to the pool when the last clone is dropped.
pub fn bytes(v: Vec<u8>) -> Bytes {
  if v.capacity() < MIN_POOLED {
    return Bytes::from(v);
  }
  Bytes::from_owner(Pooled(v))
}

/// A copy of `data` in a pooled buffer.
pub fn copy(data: &[u8]) -> Bytes {
  let mut v = take(data.len());
  v.extend_from_slice(data);
  bytes(v)
}

struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
  fn as_ref(&self) -> &[u8] {
    &self.0
  }
}

impl Drop for Pooled {
  fn drop(&mut self) {
    give(std::mem::take(&mut self.0));
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn big_buffers_are_reused_small_ones_never_and_the_pool_stays_bounded() {
    let pool = Pool::new();
    let v = pool.take(1 << 20);
    let cap = v.capacity();
    assert!(cap >= 1 << 20 && cap.is_multiple_of(STEP));
    let ptr = v.as_ptr();
    pool.give(v);
    // A slightly bigger body of the next request reuses the same pages.
    let again = pool.take((1 << 20) + 1000);
    assert_eq!(again.as_ptr(), ptr);
    assert!(again.is_empty());
    assert!(pool.idle().is_empty());

    pool.give(Vec::with_capacity(1000));
    assert!(pool.idle().is_empty());
    for mb in [1, 8, 2, 8, 8, 4, 8, 8, 16, 3] {
      pool.give(Vec::with_capacity(mb << 20));
    }
    let idle = pool.idle();
    assert!(idle.len() <= MAX_IDLE);
    assert!(idle.iter().map(Vec::capacity).sum::<usize>() <= MAX_IDLE_BYTES);
    assert!(
      idle.windows(2).all(|w| w[0].capacity() >= w[1].capacity()),
      "biggest first"
    );
    assert_eq!(idle[0].capacity(), 16 << 20, "the smallest are evicted first");
  }

  #[test]
  fn pooled_bytes_hold_their_data_and_return_after_the_last_clone() {
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let b = copy(&data);
    let clone = b.slice(10..20);
    drop(b);
    assert_eq!(&clone[..], &data[10..20]);
    drop(clone);
    assert_eq!(&copy(b"small")[..], b"small");
  }
}
