//! Taking a login over: one refresh of the chosen chain under kimi-native's refresh lock (and
//! pi's auth.json lock for pi), the new pair stored by kimi-native, then every source that held
//! the chain handed over; if the store refuses, the new pair goes back to its owner.

use super::scan::{pick, scan, Candidate, Found, Kind};
use super::{hostfile, opencode, pi, Locations};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::lock::{FileLock, REFRESH_LOCK_DEADLINE};
use crate::oauth::{OAuthClient, RefreshFailure};
use crate::store;
use crate::task::blocking;
use crate::token::StoredLogin;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// pi's auth.json lock (proper-lockfile, `<auth.json>.lock/`) as `import` takes it: it waits 15 s
/// for a running pi; it breaks only a lock older than 30 s (the `stale` of pi's async lock, the
/// longest pi uses: a live pi refreshes its lock every 15 s); it sets its own lock's mtime every
/// 5 s, half of the shortest `stale` a pi holder uses (10 s, proper-lockfile's default, taken by
/// pi's sync lock), which is proper-lockfile's own `update` default for that limit.
const PI_LOCK: hostfile::LockTiming = hostfile::LockTiming {
  deadline: Duration::from_secs(15),
  stale: Duration::from_secs(30),
  update: Duration::from_secs(5),
};

/// The outcome of a takeover; `handed_over` lists every source that held the chain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
  pub source: Found,
  pub handed_over: Vec<HandedOver>,
  pub expires_at: f64,
  pub store: &'static str,
  pub store_reason: String,
  /// The login was taken over, but a source could not be changed (what to do is said).
  pub warning: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandedOver {
  pub id: String,
  pub file: String,
  pub action: &'static str,
  /// The backup (or, for `move-aside`, where the file went).
  pub backup: String,
}

fn dead(found: &Found, detail: &str) -> KimiError {
  KimiError::new(
    Code::ReloginRequired,
    format!(
      "The Kimi login in {} is no longer valid (the server refused its refresh token: {detail}). Nothing was changed. Run `npx kimi-native login` to sign in.",
      found.file
    ),
  )
}

async fn refresh_once(oauth: &OAuthClient, refresh_token: &str) -> std::result::Result<StoredLogin, RefreshFailure> {
  let mut attempt = 0;
  loop {
    match oauth.refresh(refresh_token).await {
      Err(RefreshFailure::Transient(_)) if attempt + 1 < c::REFRESH_ATTEMPTS => {
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        attempt += 1;
      }
      other => return other,
    }
  }
}

/// Hands one source over; the caller holds the locks. Returns the backup path.
fn hand_over(cand: &Candidate) -> std::result::Result<HandedOver, String> {
  let real = hostfile::real(&cand.path).map_err(|e| format!("cannot resolve it: {e}"))?;
  let action = cand.found.handover.unwrap_or("remove");
  let backup = if action == "move-aside" {
    hostfile::move_aside(&real).map_err(|e| format!("cannot move it aside: {e}"))?
  } else {
    let key = cand.found.entry.clone().unwrap_or_default();
    let backup = hostfile::backup(&real).map_err(|e| format!("cannot back it up: {e}"))?;
    let marker = match cand.kind {
      Kind::Pi => pi::marker(),
      _ => opencode::marker(),
    };
    hostfile::edit_json(&real, |m| {
      if action == "marker" {
        m.insert(key.clone(), marker);
      } else {
        m.shift_remove(&key);
      }
    })?;
    backup
  };
  Ok(HandedOver {
    id: cand.found.id.clone(),
    file: cand.found.file.clone(),
    action,
    backup: backup.display().to_string(),
  })
}

/// Writes a refreshed pair into the source in its own format (used when kimi-native cannot keep it).
fn give_back(cand: &Candidate, login: &StoredLogin) -> std::result::Result<(), String> {
  use serde_json::{json, Value};
  let real = hostfile::real(&cand.path).map_err(|e| e.to_string())?;
  let ms = (login.expires_at * 1000.0) as u64;
  hostfile::edit_json(&real, |m| match &cand.found.entry {
    None => {
      m.insert("access_token".into(), json!(login.access_token));
      m.insert("refresh_token".into(), json!(login.refresh_token));
      m.insert("expires_in".into(), json!(login.expires_in));
      m.insert("expires_at".into(), json!(ms));
    }
    Some(key) => {
      if let Some(Value::Object(e)) = m.get_mut(key) {
        // Keep the unit the owner uses (opencode-kimi-auth's copy counts seconds).
        let secs = e.get("expires").and_then(Value::as_f64).is_some_and(|v| v < 1e11);
        e.insert("access".into(), json!(login.access_token));
        e.insert("refresh".into(), json!(login.refresh_token));
        e.insert("expires".into(), json!(if secs { ms / 1000 } else { ms }));
      }
    }
  })
}

async fn lock_pi_auth(auth: &Path) -> std::io::Result<hostfile::DirLock> {
  // proper-lockfile locks the file's real path (pi does too), so a symlinked auth.json shares it.
  let target = hostfile::real(auth).unwrap_or_else(|_| auth.to_path_buf());
  hostfile::DirLock::acquire(&target, PI_LOCK).await
}

/// Before pi's auth.json is written: the lock must still be ours. Were it lost (another program
/// found it stale, e.g. after the machine slept, and took it), it is taken again, so the write
/// still reads and changes the file under pi's lock.
async fn still_locked(lock: &mut Option<hostfile::DirLock>, auth: &Path) -> std::result::Result<(), String> {
  match lock {
    Some(l) if !l.held() => {
      *lock = None;
      *lock = Some(
        lock_pi_auth(auth)
          .await
          .map_err(|e| format!("pi's auth.json lock was taken by another program and not released ({e})"))?,
      );
      Ok(())
    }
    _ => Ok(()),
  }
}

/// Takes over the login `id` names (see the module docs).
pub async fn import(settings: &Settings, loc: &Locations, id: &str) -> Result<Imported> {
  let l = loc.clone();
  let all = blocking(move || Ok(scan(&l))).await?;
  let chosen = pick(&all, id)?;
  if !chosen.found.importable {
    return Err(KimiError::bad_input(format!(
      "The Kimi login `{}` in {} cannot be imported: {}.",
      chosen.found.id, chosen.found.file, chosen.found.reason
    )));
  }
  let id = chosen.found.id.clone();
  let (kind, path) = (chosen.kind, chosen.path.clone());
  // Spend the refresh token only if the source can be changed afterwards.
  let dir = hostfile::real(&path)
    .ok()
    .and_then(|p| p.parent().map(Path::to_path_buf))
    .unwrap_or_default();
  let d = dir.clone();
  blocking(move || {
    hostfile::check_writable(&d).map_err(|e| {
      KimiError::store(format!(
        "Cannot change files in {} ({e}); nothing was imported.",
        d.display()
      ))
    })
  })
  .await?;
  // The store too: a keychain that turns out unusable after the refresh would lose the new pair.
  let s = settings.clone();
  let st = blocking(move || store::resolve(&s)).await?;
  // kimi-native's own lock first: waiting for it (up to 90 s) must not hold pi's lock, which pi
  // needs for every auth.json change. pi's lock is then held only for the refresh and the rewrite.
  let _refresh_lock = FileLock::acquire(&settings.lock_path(), REFRESH_LOCK_DEADLINE).await?;
  let mut pi_lock = match kind {
    Kind::Pi => Some(lock_pi_auth(&path).await.map_err(|e| {
      KimiError::store(format!(
        "pi is updating {} right now ({e}); nothing was imported. Try again in a moment.",
        path.display()
      ))
    })?),
    _ => None,
  };
  let oauth = OAuthClient::new(settings)?;
  let mut retried = false;
  let (login, all, spent) = loop {
    // Read again under the locks: the owner may have rotated the token meanwhile.
    let l = loc.clone();
    let all = blocking(move || Ok(scan(&l))).await?;
    let cand = pick(&all, &id)?;
    let Some(chain) = cand.chain.clone().filter(|_| cand.found.importable) else {
      return Err(KimiError::bad_input(format!(
        "The Kimi login `{id}` changed while importing: {}.",
        cand.found.reason
      )));
    };
    match refresh_once(&oauth, &chain.refresh).await {
      Ok(login) => break (login, all, chain.refresh),
      // Lost a race with the old owner's own refresh: its file now holds the next token.
      Err(RefreshFailure::Unauthorized(detail)) => {
        if retried {
          return Err(dead(&cand.found, &detail));
        }
        retried = true;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let l = loc.clone();
        let again = blocking(move || Ok(scan(&l))).await?;
        let rotated = pick(&again, &id)
          .ok()
          .and_then(|c| c.chain.as_ref())
          .is_some_and(|ch| ch.refresh != chain.refresh);
        if !rotated {
          return Err(dead(&cand.found, &detail));
        }
      }
      Err(RefreshFailure::Transient(e)) | Err(RefreshFailure::Fatal(e)) => {
        return Err(KimiError::new(
          e.code,
          format!(
            "{} Nothing was changed; try `npx kimi-native import {id}` again.",
            e.message
          ),
        ))
      }
    }
  };
  let mut login = login;
  login.oauth_host = Some(settings.oauth_host.clone());
  // Through the core's session: this process's cached login and in-flight refreshes of the
  // previous login give way to the imported one, and a refused keychain write falls back.
  if let Err(e) = crate::auth::store_login_locked(settings, login.clone()).await {
    // The source's refresh token is spent: give the new pair back to its owner rather than lose it.
    let cand = pick(&all, &id)?;
    let back = match still_locked(&mut pi_lock, &path).await {
      Ok(()) => give_back(cand, &login),
      Err(e) => Err(e),
    };
    return Err(KimiError::store(match back {
      Ok(()) => format!(
        "{} The refreshed login was written back to {}, so {} keeps working; nothing else was changed.",
        e.message, cand.found.file, cand.found.plugin
      ),
      Err(b) => format!(
        "{} Writing the refreshed login back to {} failed too ({b}): sign in again with `npx kimi-native login`.",
        e.message, cand.found.file
      ),
    }));
  }
  // Every plugin source that held this chain (opencode-kimi-auth keeps a copy in opencode's
  // auth.json) is handed over, so none of them keeps refreshing a spent token.
  let holders: Vec<&Candidate> = all
    .iter()
    .filter(|c| c.found.importable && c.chain.as_ref().is_some_and(|ch| ch.refresh == spent))
    .collect();
  let source = pick(&all, &id)?.found.clone();
  let mut handed_over = vec![];
  let mut problems = vec![];
  let relocked = still_locked(&mut pi_lock, &path).await;
  for cand in holders {
    // pi's lock is only held for the chosen source's file.
    let result = if cand.kind != Kind::Pi {
      hand_over(cand)
    } else if kind != Kind::Pi {
      Err("pi's auth.json was not locked".into())
    } else {
      relocked.clone().and_then(|()| hand_over(cand))
    };
    match result {
      Ok(h) => handed_over.push(h),
      Err(e) => problems.push(format!(
        "{} ({}): {e}; remove that entry yourself, its refresh token is spent",
        cand.found.id, cand.found.file
      )),
    }
  }
  drop(pi_lock);
  let token = login.access_token.clone();
  let _ = crate::auth::discover_models(settings, Some(token)).await;
  Ok(Imported {
    source,
    handed_over,
    expires_at: login.expires_at,
    store: st.kind,
    store_reason: st.reason,
    warning: (!problems.is_empty()).then(|| format!("The login was imported, but: {}.", problems.join("; "))),
  })
}

#[cfg(test)]
mod tests {
  use super::super::scan::list;
  use super::super::tests::{settings, write};
  use super::*;
  use std::fs;
  use std::path::PathBuf;

  #[test]
  fn hand_over_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let none = |_: &str| None;
    let l = Locations::resolve(&s, &none, Some(dir.path()));
    write(&l.opencode_kimi_auth, r#"{"access_token":"a0","refresh_token":"r0"}"#);
    write(
      &l.opencode_auth,
      r#"{"a":{"type":"api","key":"k"},"kimi-for-coding-oauth":{"type":"oauth","refresh":"r1","access":"a1","expires":1},"kimi":{"type":"oauth","refresh":"r5","access":"a5","expires":1}}"#,
    );
    write(
      &l.pi_auth,
      r#"{"kimi-coding":{"type":"oauth","refresh":"r2","access":"a2","expires":1},"z":1}"#,
    );
    let all = scan(&l);
    for c in &all {
      hand_over(c).unwrap();
    }
    assert!(!l.opencode_kimi_auth.as_ref().unwrap().exists());
    let oc: serde_json::Value =
      serde_json::from_str(&fs::read_to_string(l.opencode_auth.as_ref().unwrap()).unwrap()).unwrap();
    assert_eq!(oc["kimi-for-coding-oauth"], opencode::marker());
    assert!(oc.get("kimi").is_none());
    assert_eq!(oc["a"]["key"], "k");
    let pi_text = fs::read_to_string(l.pi_auth.as_ref().unwrap()).unwrap();
    assert_eq!(pi_text, "{\n  \"z\": 1\n}");
    // Re-reading the handed-over files finds nothing more to take over.
    assert!(list(&l).iter().all(|f| !f.importable));
  }

  #[test]
  fn give_back_writes_the_new_pair_in_each_owners_format() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let none = |_: &str| None;
    let l = Locations::resolve(&s, &none, Some(dir.path()));
    write(
      &l.opencode_kimi_auth,
      r#"{"access_token":"a0","refresh_token":"r0","device_id":"d"}"#,
    );
    write(
      &l.opencode_auth,
      r#"{"kimi":{"type":"oauth","refresh":"r1","access":"a1","expires":1795235596},"o":1}"#,
    );
    write(
      &l.pi_auth,
      r#"{"kimi-coding":{"type":"oauth","refresh":"r2","access":"a2","expires":1795235596000,"modelId":"k3"}}"#,
    );
    let login = StoredLogin {
      access_token: "new-a".into(),
      refresh_token: "new-r".into(),
      expires_at: 1795236000.0,
      expires_in: 900.0,
      ..Default::default()
    };
    for c in &scan(&l) {
      give_back(c, &login).unwrap();
    }
    let read = |p: &Option<PathBuf>| -> serde_json::Value {
      serde_json::from_str(&fs::read_to_string(p.as_ref().unwrap()).unwrap()).unwrap()
    };
    let own = read(&l.opencode_kimi_auth);
    assert_eq!(
      (
        own["refresh_token"].as_str(),
        own["expires_at"].as_u64(),
        own["device_id"].as_str()
      ),
      (Some("new-r"), Some(1795236000000), Some("d"))
    );
    let oc = read(&l.opencode_auth);
    assert_eq!(
      (
        oc["kimi"]["refresh"].as_str(),
        oc["kimi"]["expires"].as_u64(),
        oc["o"].as_u64()
      ),
      (Some("new-r"), Some(1795236000), Some(1))
    );
    let pi = read(&l.pi_auth);
    assert_eq!(
      (
        pi["kimi-coding"]["access"].as_str(),
        pi["kimi-coding"]["expires"].as_u64(),
        pi["kimi-coding"]["modelId"].as_str()
      ),
      (Some("new-a"), Some(1795236000000), Some("k3"))
    );
  }
}
