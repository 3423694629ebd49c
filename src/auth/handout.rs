//! Tokens handed to another program's key command (`kimi-native token`, issue #22): a minimum
//! remaining validity, and a memory of what each caller was given so that a token the server
//! has refused is not handed back.
//!
//! A key-command host (Claude Code's `apiKeyHelper`) caches the command's output for a TTL and
//! runs it again early only after a 401, passing nothing. So a caller that asks again before
//! its TTL ran out, while the token it was given is still the current one, was most likely
//! refused. That token is then checked with one cheap authenticated call (`GET /models`) and,
//! if the server refuses it too, replaced through the same forced refresh as any other 401
//! (`token_after_rejection`: single flight, cross-process lock, rotation safety). Routine runs
//! cost no request at all. Only a fingerprint of a token is kept (a truncated SHA-256), with
//! the time it was handed out, in `<home>/handed-out/<slot>.json`.

use super::refresh;
use super::session::session;
use super::sources::{Grant, TokenSource};
use crate::config::{EnvSource, Settings};
use crate::constants::{self as c, env};
use crate::error::{Code, KimiError, Result};
use crate::lock::FileLock;
use crate::task::blocking;
use crate::token::{fingerprint, needs_refresh, now_secs};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The check of a recalled token is one small GET; a server that does not answer in this time
/// is not taken as a refusal.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// The memory is best effort: a helper run never waits long for another one's write.
const LEDGER_LOCK_DEADLINE: Duration = Duration::from_secs(2);

/// What a key command asks for.
#[derive(Debug, Clone)]
pub struct HandOutRequest {
  /// The token handed out stays valid for at least this long.
  pub min_valid_secs: f64,
  /// Who asks (Claude Code's pid through `$PPID`); `None`: nothing is remembered.
  pub caller: Option<String>,
  /// How long the caller caches a token: asking again sooner means it was refused.
  pub recall_secs: f64,
}

/// A caller id as given on the command line, or `None` when it is not one (an unexpanded
/// `$PPID` on a shell without it must not fail the helper).
pub fn caller_id(raw: &str) -> Option<String> {
  let id = raw.trim();
  let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|ch| ch.is_ascii_alphanumeric() || "._:-".contains(ch));
  ok.then(|| id.to_string())
}

/// How long the calling host caches the token: Claude Code's `CLAUDE_CODE_API_KEY_HELPER_TTL_MS`
/// (which it passes on to the helper's environment), else its default.
pub fn caller_cache_secs(env_source: &dyn EnvSource) -> f64 {
  let ms = env_source
    .var(env::CLAUDE_HELPER_TTL_MS)
    .and_then(|v| v.trim().parse::<f64>().ok())
    .filter(|v| v.is_finite() && *v >= 0.0)
    .unwrap_or(c::CLAUDE_CODE_HELPER_TTL_MS as f64);
  ms / 1000.0
}

fn fmt_secs(s: f64) -> String {
  let s = s.max(0.0).round() as u64;
  if s >= 60 {
    format!("{}m{:02}s", s / 60, s % 60)
  } else {
    format!("{s}s")
  }
}

fn too_long(min_valid: f64, lifetime: f64) -> KimiError {
  KimiError::bad_input(format!(
    "Kimi's access tokens live {}, so none stays valid for the {} asked for. Ask for less (`--min-valid`).",
    fmt_secs(lifetime),
    fmt_secs(min_valid)
  ))
}

/// A token that stays valid for at least `min_valid` seconds. It comes through the same entry
/// as every caller's (sources in order, refresh-ahead); kimi-native's own login is then
/// refreshed when it is due or would not last that long (joining a refresh in flight; the caller
/// waits for it, so it is persisted before a short-lived process exits). `KIMI_API_KEY` has no
/// expiry; an official client's login is only borrowed, never refreshed.
pub async fn valid_for(settings: &Settings, min_valid: f64) -> Result<Grant> {
  let grant = super::access_token(settings).await?;
  let Some(expires_at) = grant.expires_at else {
    return Ok(grant);
  };
  if grant.source != TokenSource::Native {
    return if expires_at - now_secs() >= min_valid {
      Ok(grant)
    } else {
      Err(borrowed_too_short(&grant, expires_at, min_valid))
    };
  }
  let sess = session(settings);
  let Some(login) = sess.current(settings).await?.filter(|l| l.relogin_reason.is_none()) else {
    return Ok(grant);
  };
  if login.expires_in > 0.0 && min_valid > login.expires_in {
    return Err(too_long(min_valid, login.expires_in));
  }
  let now = now_secs();
  if login.expires_at - now >= min_valid && !needs_refresh(&login, now, settings.refresh_floor_secs) {
    return Ok(Grant::native(&login));
  }
  // Naming the token in hand makes this a forced refresh, unless a refresh is already in flight
  // (the due one `access_token` started) or another process has replaced the token: then that
  // result is taken.
  let fresh = match refresh::refreshed(&sess, settings, Some(login.access_token.clone())).await {
    Ok(l) => l,
    // A refresh that failed for a passing reason must not fail a token that still lasts.
    Err(e)
      if !matches!(e.code, Code::ReloginRequired | Code::NotLoggedIn) && login.expires_at - now_secs() >= min_valid =>
    {
      return Ok(Grant::native(&login));
    }
    Err(e) => return Err(e),
  };
  if fresh.expires_at - now_secs() < min_valid {
    return Err(too_long(min_valid, fresh.expires_in));
  }
  Ok(Grant::native(&fresh))
}

fn borrowed_too_short(grant: &Grant, expires_at: f64, min_valid: f64) -> KimiError {
  KimiError::new(
    Code::NotLoggedIn,
    format!(
      "kimi-native has no login of its own, and the {} login it could borrow expires in {}, sooner than the {} asked for \
       (kimi-native never refreshes another client's login). Run `npx kimi-native login`, or take that login over with \
       `npx kimi-native import {}`.",
      grant.source.as_str(),
      fmt_secs(expires_at - now_secs()),
      fmt_secs(min_valid),
      grant.source.as_str()
    ),
  )
}

/// A token for a key command: [`valid_for`], except that a caller asking again for the token
/// it was just given, before its cache ran out, gets a new one if the server refuses the old.
pub async fn hand_out(settings: &Settings, req: &HandOutRequest) -> Result<Grant> {
  let grant = valid_for(settings, req.min_valid_secs).await?;
  // Nothing kimi-native could replace; or a caller that did not say who it is (a script calling
  // `token` repeatedly is no refusal signal, and must not pay a check on every call).
  let Some(caller) = req.caller.clone().filter(|_| grant.source == TokenSource::Native) else {
    return Ok(grant);
  };
  let path = ledger_path(settings);
  let given = {
    let p = path.clone();
    blocking(move || Ok(Ledger::read(&p)))
      .await?
      .entries
      .get(&caller)
      .cloned()
  };
  let now = now_secs();
  let recalled = given.is_some_and(|e| e.fingerprint == fingerprint(&grant.token) && now - e.at < req.recall_secs);
  let grant = if recalled && refused(settings, &grant.token).await {
    super::token_after_rejection(settings, &grant.token).await?;
    // The replacement is held to the same minimum as any token handed out.
    valid_for(settings, req.min_valid_secs).await?
  } else {
    grant
  };
  remember(settings, path, caller, fingerprint(&grant.token)).await;
  Ok(grant)
}

/// Whether the API answers 401 to this token. Anything else (an answer, a 403, no answer)
/// is not a refusal of the token: it is handed out again and the caller's retry decides.
async fn refused(settings: &Settings, token: &str) -> bool {
  let Ok(http) = crate::http::default_client() else {
    return false;
  };
  let req = crate::identity::api_request(settings, &http, crate::identity::Endpoint::Models, token);
  matches!(req.timeout(PROBE_TIMEOUT).send().await, Ok(resp) if resp.status().as_u16() == 401)
}

fn ledger_path(settings: &Settings) -> PathBuf {
  settings
    .home
    .join(c::HANDED_OUT_DIR)
    .join(format!("{}.json", settings.slot()))
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Given {
  fingerprint: String,
  at: f64,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Ledger {
  #[serde(default)]
  entries: BTreeMap<String, Given>,
}

impl Ledger {
  /// A missing or unreadable file is an empty memory (the worst case is one more round trip
  /// of the caller's retry, never a failure).
  fn read(path: &std::path::Path) -> Ledger {
    std::fs::read_to_string(path)
      .ok()
      .and_then(|t| serde_json::from_str(&t).ok())
      .unwrap_or_default()
  }

  fn prune(&mut self, now: f64) {
    self.entries.retain(|_, e| now - e.at < c::HANDED_OUT_KEEP_SECS);
    while self.entries.len() > c::HANDED_OUT_MAX_ENTRIES {
      let oldest = self
        .entries
        .iter()
        .min_by(|a, b| a.1.at.total_cmp(&b.1.at))
        .map(|(k, _)| k.clone());
      match oldest {
        Some(k) => self.entries.remove(&k),
        None => break,
      };
    }
  }
}

/// Records what `caller` was given, under a lock so that concurrent helper runs do not drop
/// each other's entries. Best effort: a failure only costs the detection of one refusal.
async fn remember(settings: &Settings, path: PathBuf, caller: String, fingerprint: String) {
  let lock_path = settings
    .home
    .join("locks")
    .join(format!("{}.{}.lock", settings.slot(), c::HANDED_OUT_DIR));
  let Ok(_lock) = FileLock::acquire(&lock_path, LEDGER_LOCK_DEADLINE).await else {
    return;
  };
  let _ = blocking(move || {
    let now = now_secs();
    let mut ledger = Ledger::read(&path);
    ledger.entries.insert(caller, Given { fingerprint, at: now });
    ledger.prune(now);
    let text = serde_json::to_vec(&ledger).map_err(|e| KimiError::internal(e.to_string()))?;
    crate::store::file::write_atomic(&path, &text).map_err(|e| KimiError::store(e.to_string()))
  })
  .await;
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn caller_ids_and_the_callers_cache_lifetime() {
    assert_eq!(caller_id(" 4242 ").as_deref(), Some("4242"));
    assert_eq!(caller_id("ci:job-7.a").as_deref(), Some("ci:job-7.a"));
    for bad in ["", "$PPID", "a b", "x;rm", &"9".repeat(65)] {
      assert_eq!(caller_id(bad), None, "{bad}");
    }
    let none = |_: &str| None;
    assert_eq!(caller_cache_secs(&none), 300.0);
    let set = |k: &str| (k == env::CLAUDE_HELPER_TTL_MS).then(|| "60000".to_string());
    assert_eq!(caller_cache_secs(&set), 60.0);
    let junk = |k: &str| (k == env::CLAUDE_HELPER_TTL_MS).then(|| "soon".to_string());
    assert_eq!(caller_cache_secs(&junk), 300.0);
  }

  #[test]
  fn the_ledger_keeps_fingerprints_only_and_stays_small() {
    let fp = fingerprint("fk-at-SECRET-0123456789");
    assert_eq!(fp.len(), 16);
    assert!(!fp.contains("SECRET"));
    let mut l = Ledger::default();
    let now = 10_000.0;
    l.entries.insert(
      "old".into(),
      Given {
        fingerprint: fp.clone(),
        at: now - c::HANDED_OUT_KEEP_SECS - 1.0,
      },
    );
    for i in 0..(c::HANDED_OUT_MAX_ENTRIES + 3) {
      l.entries.insert(
        format!("p{i}"),
        Given {
          fingerprint: fp.clone(),
          at: now - i as f64,
        },
      );
    }
    l.prune(now);
    assert_eq!(l.entries.len(), c::HANDED_OUT_MAX_ENTRIES);
    assert!(!l.entries.contains_key("old"));
    assert!(l.entries.contains_key("p0"), "the newest entries stay");
    let dir = tempfile::tempdir().unwrap();
    assert!(Ledger::read(&dir.path().join("none.json")).entries.is_empty());
    std::fs::write(dir.path().join("bad.json"), "{\"entries\":").unwrap();
    assert!(Ledger::read(&dir.path().join("bad.json")).entries.is_empty());
  }
}
