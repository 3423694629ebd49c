//! A response body as the host reads it: streamed by a task that reads ahead of JS (with
//! back-pressure and one wake-up per batch), or buffered when it was read whole.

use crate::cancel::Cancel;
use crate::error::{Code, KimiError, Result};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{error::TryRecvError, Sender};

pub enum Body {
  Stream(StreamBody),
  Buffered(Option<Bytes>),
}

/// The most one read hands to JS. Large enough that a fast stream crosses the FFI boundary
/// rarely; small enough not to hold much memory per read.
const MAX_READ: usize = 256 * 1024;
/// Chunks read ahead of JS before the network is paused (back-pressure).
const READ_AHEAD_CHUNKS: usize = 32;

/// A response body read ahead by its own task: the network keeps flowing while JS handles the
/// previous piece, and each read takes everything that has arrived since, so a fast stream
/// costs one JS↔native round trip per batch instead of one per network chunk. Dropping it
/// stops the task and closes the connection, so the server stops generating.
pub struct StreamBody {
  rx: tokio::sync::mpsc::Receiver<Result<Bytes>>,
  pending_error: Option<KimiError>,
  ready: Arc<ReadyNotifier>,
  cancel: Cancel,
  task: tokio::task::AbortHandle,
}

/// What [`StreamBody::poll_now`] found.
pub enum Ready {
  Data(Vec<u8>),
  End,
  /// Nothing yet; the notifier's hook runs once when that changes.
  Pending,
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// Tells a consumer that found the body empty that data, the end or an error arrived — one
/// cross-thread wake-up instead of a task hand-off per read.
#[derive(Default)]
pub struct ReadyNotifier {
  waiting: AtomicBool,
  hook: Mutex<Option<Hook>>,
}

impl ReadyNotifier {
  pub fn set_hook(&self, hook: Hook) {
    *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
  }
  fn notify(&self) {
    if self.waiting.swap(false, Ordering::AcqRel) {
      if let Some(hook) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        hook();
      }
    }
  }
}

impl Drop for StreamBody {
  fn drop(&mut self) {
    self.task.abort();
  }
}

impl StreamBody {
  /// Must be called inside the tokio runtime. Cancelling `cancel` stops the stream at once
  /// (buffered data is dropped, as fetch does on abort).
  pub fn spawn(resp: reqwest::Response, cancel: Cancel) -> StreamBody {
    Self::spawn_after(None, resp, cancel)
  }

  /// Like [`StreamBody::spawn`], with `prefix` (bytes already read from `resp`) delivered first.
  pub fn spawn_after(prefix: Option<Bytes>, resp: reqwest::Response, cancel: Cancel) -> StreamBody {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
    let ready = Arc::new(ReadyNotifier::default());
    let notifier = ready.clone();
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
      let run = async {
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
          if tx.send(Ok(p)).await.is_err() {
            return;
          }
          notifier.notify();
        }
        pump(resp, &tx, &notifier).await
      };
      tokio::select! {
        _ = stop.cancelled() => {}
        _ = run => {}
      }
      // The consumer sees the end (a closed channel) before it is woken for it.
      drop(tx);
      notifier.notify();
    })
    .abort_handle();
    StreamBody {
      rx,
      pending_error: None,
      ready,
      cancel,
      task,
    }
  }

  pub fn notifier(&self) -> Arc<ReadyNotifier> {
    self.ready.clone()
  }

  /// Waits for the next data, then also takes whatever else is already buffered.
  pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
    if self.cancel.is_cancelled() {
      return Err(KimiError::cancelled());
    }
    if let Some(e) = self.pending_error.take() {
      return Err(e);
    }
    match self.rx.recv().await {
      None => Ok(None),
      Some(Err(e)) => Err(e),
      Some(Ok(first)) => Ok(Some(self.drain_after(first))),
    }
  }

  /// What has arrived, without waiting. On `Pending` the notifier's hook runs once when data,
  /// the end or an error arrives. Errors come after the data that preceded them.
  pub fn poll_now(&mut self) -> Result<Ready> {
    if self.cancel.is_cancelled() {
      return Err(KimiError::cancelled());
    }
    if let Some(e) = self.pending_error.take() {
      return Err(e);
    }
    // Set before looking, so a chunk sent right after the look still wakes the consumer.
    self.ready.waiting.store(true, Ordering::Release);
    let found = match self.rx.try_recv() {
      Ok(Ok(first)) => Ok(Ready::Data(self.drain_after(first))),
      Ok(Err(e)) => Err(e),
      Err(TryRecvError::Disconnected) => Ok(Ready::End),
      Err(TryRecvError::Empty) => return Ok(Ready::Pending),
    };
    self.ready.waiting.store(false, Ordering::Release);
    found
  }

  fn drain_after(&mut self, first: Bytes) -> Vec<u8> {
    // A batch `take_ready` assembled is uniquely owned: this takes its allocation, no copy.
    let mut out = Vec::from(first);
    while out.len() < MAX_READ {
      match self.rx.try_recv() {
        Ok(Ok(more)) => out.extend_from_slice(&more),
        // Reported on the next read, after the data before it.
        Ok(Err(e)) => {
          self.pending_error = Some(e);
          break;
        }
        Err(_) => break,
      }
    }
    out
  }
}

/// Reads `resp` into `tx` until the end, an error, or the consumer goes away.
async fn pump(mut resp: reqwest::Response, tx: &Sender<Result<Bytes>>, ready: &ReadyNotifier) {
  loop {
    let next = tokio::select! {
      _ = tx.closed() => return,
      r = resp.chunk() => r,
    };
    let first = match next {
      Ok(Some(chunk)) => chunk,
      Ok(None) => return,
      Err(e) => {
        let _ = tx.send(Err(KimiError::network("Reading the Kimi response", &e))).await;
        return;
      }
    };
    // hyper yields one chunked-encoding frame at a time; frames it has already decoded go
    // into the same message, so a fast stream wakes the consumer less often.
    let (batch, end) = take_ready(&mut resp, first);
    if tx.send(Ok(batch)).await.is_err() {
      return;
    }
    ready.notify();
    match end {
      None => {}
      Some(Ok(())) => return,
      Some(Err(e)) => {
        let _ = tx.send(Err(e)).await;
        return;
      }
    }
  }
}

/// Appends to `first` every chunk `resp` can give without waiting (up to [`MAX_READ`]). The
/// second value is `Some` when the body ended (`Ok`) or failed (`Err`) while doing so.
fn take_ready(resp: &mut reqwest::Response, first: Bytes) -> (Bytes, Option<Result<()>>) {
  use futures_util::FutureExt;
  let mut buf: Option<bytes::BytesMut> = None;
  let mut end = None;
  while buf.as_ref().map_or(first.len(), |b| b.len()) < MAX_READ {
    match resp.chunk().now_or_never() {
      Some(Ok(Some(more))) => buf
        .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
        .extend_from_slice(&more),
      Some(Ok(None)) => {
        end = Some(Ok(()));
        break;
      }
      Some(Err(e)) => {
        end = Some(Err(KimiError::network("Reading the Kimi response", &e)));
        break;
      }
      // Not decoded yet: dropping the pending future consumes nothing.
      None => break,
    }
  }
  (buf.map_or(first, |b| b.freeze()), end)
}

impl Body {
  /// What is available now (see [`StreamBody::poll_now`]); a buffered body is always ready.
  pub fn poll_now(&mut self) -> Result<Ready> {
    match self {
      Body::Buffered(b) => Ok(b.take().map_or(Ready::End, |b| Ready::Data(Vec::from(b)))),
      Body::Stream(s) => s.poll_now(),
    }
  }

  pub fn notifier(&self) -> Option<Arc<ReadyNotifier>> {
    match self {
      Body::Buffered(_) => None,
      Body::Stream(s) => Some(s.notifier()),
    }
  }
}

/// Reads about `limit` bytes of an error body; `true` with them when the body ended (a broken
/// body just ends it), `false` when more is left to stream.
pub(super) async fn read_error_body(
  resp: &mut reqwest::Response,
  limit: usize,
  cancel: &Cancel,
) -> Result<(Vec<u8>, bool)> {
  let mut buf = Vec::new();
  loop {
    if buf.len() >= limit {
      return Ok((buf, false));
    }
    match cancel
      .run(async {
        resp
          .chunk()
          .await
          .map_err(|e| KimiError::network("Reading the Kimi response", &e))
      })
      .await
    {
      Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
      Ok(None) => return Ok((buf, true)),
      Err(e) if e.code == Code::Cancelled => return Err(e),
      Err(_) => return Ok((buf, true)),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::time::Duration;

  fn spawn_plain(resp: reqwest::Response) -> StreamBody {
    StreamBody::spawn(resp, Cancel::default())
  }

  fn response_of(chunks: Vec<std::result::Result<&'static [u8], std::io::Error>>) -> reqwest::Response {
    let stream = futures_util::stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static)));
    reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)))
  }

  #[tokio::test]
  async fn read_ahead_coalesces_what_arrived_and_reports_errors_after_the_data() {
    let mut body = spawn_plain(response_of(vec![
      Ok(b"data: 1\n\n"),
      Ok(b"data: 2\n\n"),
      Err(std::io::Error::other("reset")),
    ]));
    // Let the reader task run ahead of the consumer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    match body.poll_now() {
      Ok(Ready::Data(d)) => assert_eq!(d, b"data: 1\n\ndata: 2\n\n"),
      _ => panic!("expected both chunks in one piece"),
    }
    let err = body.poll_now().err().expect("the error comes after the data");
    assert_eq!(err.code, Code::Network);
    assert!(matches!(body.poll_now(), Ok(Ready::End)));
  }

  #[tokio::test]
  async fn a_consumer_that_found_nothing_is_woken_once_for_data_and_once_for_the_end() {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut body = spawn_plain(reqwest::Response::from(http::Response::new(
      reqwest::Body::wrap_stream(stream),
    )));
    let (wake_tx, mut wakes) = tokio::sync::mpsc::unbounded_channel::<()>();
    body.notifier().set_hook(Box::new(move || {
      let _ = wake_tx.send(());
    }));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    tx.send(Ok(Bytes::from_static(b"data: x\n\n"))).unwrap();
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken for data");
    assert!(matches!(body.poll_now(), Ok(Ready::Data(d)) if d == b"data: x\n\n"));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken for the end");
    assert!(matches!(body.poll_now(), Ok(Ready::End)));
    // Not waiting any more: no further wake-ups.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(wakes.try_recv().is_err());
  }

  #[tokio::test]
  async fn cancelling_wakes_the_consumer_and_closes_the_upstream() {
    let cancel = Cancel::default();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let resp = reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)));
    let mut body = StreamBody::spawn(resp, cancel.clone());
    let (wake_tx, mut wakes) = tokio::sync::mpsc::unbounded_channel::<()>();
    body.notifier().set_hook(Box::new(move || {
      let _ = wake_tx.send(());
    }));
    assert!(matches!(body.poll_now(), Ok(Ready::Pending)));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), wakes.recv())
      .await
      .expect("woken by the cancel");
    assert_eq!(body.poll_now().err().map(|e| e.code), Some(Code::Cancelled));
    for _ in 0..100 {
      if tx.is_closed() {
        return;
      }
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the upstream stayed open after the cancel");
  }

  #[tokio::test]
  async fn one_read_never_exceeds_the_cap() {
    static BIG: [u8; 100 * 1024] = [b'x'; 100 * 1024];
    let mut body = spawn_plain(response_of(vec![
      Ok(&BIG[..]),
      Ok(&BIG[..]),
      Ok(&BIG[..]),
      Ok(&BIG[..]),
    ]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut sizes = Vec::new();
    while let Some(piece) = body.next().await.unwrap() {
      sizes.push(piece.len());
    }
    assert_eq!(sizes.iter().sum::<usize>(), 400 * 1024);
    assert!(sizes.iter().all(|&n| n <= MAX_READ + 100 * 1024), "{sizes:?}");
    assert!(sizes.len() >= 2, "{sizes:?}");
  }

  #[tokio::test]
  async fn dropping_the_body_stops_the_reader() {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<std::result::Result<Bytes, std::io::Error>>();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let body = spawn_plain(reqwest::Response::from(http::Response::new(
      reqwest::Body::wrap_stream(stream),
    )));
    tx.send(Ok(Bytes::from_static(b"x"))).unwrap();
    drop(body);
    // The aborted task drops the response and with it the receiving end of the stream.
    for _ in 0..100 {
      if tx.is_closed() {
        return;
      }
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the reader task kept the response alive after the body was dropped");
  }
}
