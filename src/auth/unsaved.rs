//! A rotation the store refused to write. The server has already rotated, so the pair held in
//! this process's memory is the login and the store's pair is spent: refreshes go on from
//! memory, the write is retried in the background and on the next change, and a note beside
//! the refresh lock tells other processes why the store's pair no longer works.
//!
//! The note is best effort and holds no secret: the pid that holds the login, since when, the
//! store's error, and a short SHA-256 fingerprint of the spent refresh token (so a process that
//! presented that very token knows the note is about it). Its limits: it is seen only by
//! processes that use the same home; a pid can be reused after the holder exits; and a holder
//! that is killed leaves its pair nowhere (the note then says so).

use crate::config::Settings;
use crate::token::{fingerprint, StoredLogin};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Background write attempts after a refused write: 1 s, doubling, at most this far apart.
pub(crate) const RETRY_FIRST: Duration = Duration::from_secs(1);
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(30);

/// The login held only in memory, and what the store held when its write was first refused.
#[derive(Clone)]
pub(crate) struct Unsaved {
  pub login: StoredLogin,
  /// The refresh token of the pair the store still holds (`None`: the store held no login). The
  /// store holding anything else means another process logged in or out since: that wins.
  pub store_had: Option<String>,
  pub since: Instant,
  pub reason: String,
}

impl Unsaved {
  /// Whether `stored` (what the store holds now) is still the pair this process moved past.
  pub fn store_unchanged(&self, stored: Option<&StoredLogin>) -> bool {
    stored.map(|l| &l.refresh_token) == self.store_had.as_ref()
  }
}

#[derive(Serialize, Deserialize)]
struct Note {
  pid: u32,
  /// Epoch seconds.
  since: f64,
  reason: String,
  spent: String,
}

fn note_path(settings: &Settings) -> PathBuf {
  let lock = settings.lock_path();
  lock.with_extension("unsaved")
}

/// Tells other processes that the store's pair (`spent`) was rotated by this process and could
/// not be saved. Best effort.
pub(crate) fn write_note(settings: &Settings, spent: &str, reason: &str) {
  let note = Note {
    pid: std::process::id(),
    since: crate::token::now_secs(),
    reason: reason.to_string(),
    spent: fingerprint(spent),
  };
  if let Ok(text) = serde_json::to_vec(&note) {
    let _ = crate::store::file::write_atomic(&note_path(settings), &text);
  }
}

/// Removes this process's note (its login reached the store, or was replaced). A note of
/// another live process is left alone.
pub(crate) fn clear_note(settings: &Settings) {
  let path = note_path(settings);
  let mine = std::fs::read(&path)
    .ok()
    .and_then(|t| serde_json::from_slice::<Note>(&t).ok())
    .is_some_and(|n| n.pid == std::process::id());
  if mine {
    let _ = std::fs::remove_file(path);
  }
}

/// What another process has to say about `refresh_token`, which the server just refused: the
/// reason the latest pair is not in the store, and whether its holder still runs. Removes a
/// note whose holder is gone (its message is returned once, for the relogin reason).
pub(crate) fn explain_spent(settings: &Settings, refresh_token: &str) -> Option<(String, bool)> {
  let path = note_path(settings);
  let note: Note = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
  if note.spent != fingerprint(refresh_token) || note.pid == std::process::id() {
    return None;
  }
  let alive = process_alive(note.pid);
  let since = (crate::token::now_secs() - note.since).max(0.0).round();
  let text = if alive {
    format!(
      "the login was renewed {since} s ago by process {}, which could not save it ({}). That process holds the \
       current login and saves it as soon as the store accepts writes again: fix the store, or run `npx kimi-native login`",
      note.pid, note.reason
    )
  } else {
    let _ = std::fs::remove_file(&path);
    format!(
      "the login was renewed {since} s ago by process {}, which could not save it ({}) and has exited, so the current \
       login was lost with it",
      note.pid, note.reason
    )
  };
  Some((text, alive))
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
  let Ok(pid) = libc::pid_t::try_from(pid) else {
    return false;
  };
  // Signal 0 checks existence only; EPERM means it exists under another user.
  (unsafe { libc::kill(pid, 0) } == 0) || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Without a cheap check the holder is assumed alive: the message then says it may still run.
#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
  true
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::Options;

  #[cfg(unix)]
  #[test]
  fn a_note_names_the_cause_without_the_token_and_only_for_that_token() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
      home: Some(dir.path().to_string_lossy().into_owned()),
      ..Default::default()
    };
    let settings = Settings::resolve_with(&opts, &|_: &str| None).unwrap();
    std::fs::create_dir_all(dir.path().join("locks")).unwrap();
    // Another, live process (our parent) wrote it.
    let note = Note {
      pid: std::os::unix::process::parent_id(),
      since: crate::token::now_secs(),
      reason: "read-only file system".into(),
      spent: fingerprint("RT-spent-0123456789"),
    };
    std::fs::write(note_path(&settings), serde_json::to_vec(&note).unwrap()).unwrap();
    let text = std::fs::read_to_string(note_path(&settings)).unwrap();
    assert!(!text.contains("RT-spent"), "{text}");
    assert!(explain_spent(&settings, "RT-other").is_none());
    let (why, alive) = explain_spent(&settings, "RT-spent-0123456789").unwrap();
    assert!(
      alive && why.contains("read-only file system") && why.contains("could not save it"),
      "{why}"
    );
    // A holder that has exited: said once, then the note is gone.
    let note = Note {
      pid: 0x7fff_fff0,
      ..note
    };
    std::fs::write(note_path(&settings), serde_json::to_vec(&note).unwrap()).unwrap();
    let (why, alive) = explain_spent(&settings, "RT-spent-0123456789").unwrap();
    assert!(!alive && why.contains("has exited"), "{why}");
    assert!(!note_path(&settings).exists());
  }
}
