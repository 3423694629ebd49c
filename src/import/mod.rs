//! Taking over a Kimi login another plugin holds, so a user who switches to kimi-native never
//! signs in again and the old plugin can no longer race kimi-native on one refresh chain (Kimi
//! rotates refresh tokens: two programs refreshing one chain log each other out).
//!
//! `scan` finds the sources and says which can be taken over (pure file reading). `import`
//! refreshes the chosen chain once under kimi-native's cross-process refresh lock (and pi's
//! auth.json lock for pi, taken after kimi-native's own and kept fresh while held), stores the
//! new pair in kimi-native's store, then hands the source
//! over: a 0600 backup and an atomic rewrite that leaves kimi-native's marker (or no entry), or
//! the plugin's own file moved aside. Since the old refresh token is spent by that refresh, an
//! old plugin that is still running fails its next refresh instead of forking the chain.
//! A refused refresh token changes nothing.

pub(crate) mod hostfile;
pub mod official;
pub mod opencode;
pub mod opencode_kimi_auth;
pub(crate) mod parse;
pub mod pi;

use crate::auth::blocking;
use crate::config::{EnvSource, Settings};
use crate::constants::{self as c, env};
use crate::error::{Code, KimiError, Result};
use crate::lock::FileLock;
use crate::oauth::{OAuthClient, RefreshFailure};
use crate::store;
use crate::token::StoredLogin;
use parse::{Chain, Entry};
use serde::Serialize;
use std::path::{Path, PathBuf};
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
/// Same deadline as a refresh waiting for another kimi-native process.
const REFRESH_LOCK_DEADLINE: Duration = Duration::from_secs(90);

/// Where each program keeps its logins. Built from the environment through `EnvSource`.
#[derive(Debug, Clone, Default)]
pub struct Locations {
  pub opencode_kimi_auth: Option<PathBuf>,
  pub opencode_auth: Option<PathBuf>,
  pub pi_auth: Option<PathBuf>,
  pub kimi_code: Option<PathBuf>,
  pub kimi_cli: Option<PathBuf>,
}

impl Locations {
  pub fn resolve(settings: &Settings, env: &dyn EnvSource, home: Option<&Path>) -> Locations {
    let var = |name: &str| env.var(name).map(PathBuf::from);
    let under_home = |rel: &str| home.map(|h| h.join(rel));
    Locations {
      opencode_kimi_auth: under_home(opencode_kimi_auth::DIR).map(|d| d.join(opencode_kimi_auth::FILE)),
      // opencode 1.18 uses this on every platform (xdg-basedir), as the opencode adapter does.
      opencode_auth: var(env::XDG_DATA_HOME)
        .or_else(|| under_home(".local/share"))
        .map(|d| d.join("opencode").join("auth.json")),
      pi_auth: var(env::PI_CODING_AGENT_DIR)
        .or_else(|| under_home(".pi/agent"))
        .map(|d| d.join("auth.json")),
      kimi_code: var(env::KIMI_CODE_HOME)
        .or_else(|| under_home(c::KIMI_CODE_HOME_DIR))
        .map(|d| d.join("credentials").join(format!("{}.json", settings.slot()))),
      kimi_cli: var(env::KIMI_SHARE_DIR)
        .or_else(|| under_home(c::KIMI_CLI_HOME_DIR))
        .map(|d| d.join(c::OFFICIAL_CREDENTIALS_FILE)),
    }
  }

  pub fn from_process(settings: &Settings) -> Locations {
    Locations::resolve(
      settings,
      &crate::config::ProcessEnv,
      crate::config::home_dir().as_deref(),
    )
  }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
  OpencodeKimiAuth,
  Opencode,
  Pi,
  KimiCode,
  KimiCli,
}

impl Kind {
  fn host(self) -> &'static str {
    match self {
      Kind::OpencodeKimiAuth | Kind::Opencode => "opencode",
      Kind::Pi => "pi",
      Kind::KimiCode => "kimi-code",
      Kind::KimiCli => "kimi-cli",
    }
  }
  fn official(self) -> bool {
    matches!(self, Kind::KimiCode | Kind::KimiCli)
  }
}

/// What `import` lists: no secret in it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
  /// What to pass to `import <source>`: `opencode-kimi-auth`, `opencode:<provider id>`,
  /// `pi:<provider id>`, `kimi-code`, `kimi-cli`.
  pub id: String,
  pub host: &'static str,
  /// Who writes this login.
  pub plugin: String,
  pub file: String,
  pub entry: Option<String>,
  pub has_refresh_token: bool,
  /// Access-token expiry (epoch seconds) as the source records it.
  pub expires_at: Option<f64>,
  pub importable: bool,
  /// Why it can or cannot be taken over, in words for the user.
  pub reason: String,
  /// What `import` does to the source: `marker`, `remove` or `move-aside`.
  pub handover: Option<&'static str>,
  /// The entry already holds kimi-native's marker (handed over before).
  pub marker: bool,
}

/// Reads one source file's text into its entries, or says what is wrong with the file.
type Parser = fn(&str) -> std::result::Result<Vec<Entry>, String>;

#[derive(Debug)]
struct Candidate {
  found: Found,
  kind: Kind,
  path: PathBuf,
  chain: Option<Chain>,
}

fn read(path: &Path) -> Option<std::result::Result<String, String>> {
  match std::fs::read(path) {
    Ok(bytes) => Some(String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())),
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
    Err(e) => Some(Err(format!("it cannot be read ({e})"))),
  }
}

fn candidates_of(kind: Kind, path: &Path, parser: Parser) -> Vec<Candidate> {
  let file = path.display().to_string();
  let base_id = match kind {
    Kind::OpencodeKimiAuth => opencode_kimi_auth::PLUGIN,
    k => k.host(),
  };
  let whole_file_plugin = match kind {
    Kind::OpencodeKimiAuth => opencode_kimi_auth::PLUGIN,
    Kind::Opencode => "opencode",
    Kind::Pi => "pi",
    Kind::KimiCode => "kimi-code (official client)",
    Kind::KimiCli => "kimi-cli (official client)",
  };
  let Some(text) = read(path) else { return vec![] };
  let entries = match text.and_then(|t| parser(&t)) {
    Ok(entries) => entries,
    Err(problem) => {
      return vec![Candidate {
        found: Found {
          id: base_id.to_string(),
          host: kind.host(),
          plugin: whole_file_plugin.to_string(),
          file,
          entry: None,
          has_refresh_token: false,
          expires_at: None,
          importable: false,
          reason: format!("{problem}; the file was left untouched"),
          handover: None,
          marker: false,
        },
        kind,
        path: path.to_path_buf(),
        chain: None,
      }]
    }
  };
  entries
    .into_iter()
    .map(|e| {
      let (id, plugin, handover) = match (&e.key, kind) {
        (Some(k), Kind::Opencode) => (
          format!("opencode:{k}"),
          opencode::plugin(k),
          if k == c::OPENCODE_PROVIDER_ID { "marker" } else { "remove" },
        ),
        (Some(k), Kind::Pi) => (
          format!("pi:{k}"),
          pi::plugin(k),
          if k == c::PI_PROVIDER_ID { "marker" } else { "remove" },
        ),
        _ => (base_id.to_string(), whole_file_plugin, "move-aside"),
      };
      let importable = e.chain.is_some() && !e.marker && !kind.official();
      let reason = if kind.official() {
        format!(
          "the official {} client's own login: kimi-native reuses it read-only while it is valid and never takes it over (that would log {} out)",
          kind.host(),
          kind.host()
        )
      } else if e.marker {
        "already handed over to kimi-native (it holds kimi-native's marker, no token)".to_string()
      } else if let Some(p) = e.problem.clone().filter(|_| e.chain.is_none()) {
        format!("{p}; nothing to take over")
      } else {
        let what = match handover {
          "marker" => "replaces the entry with kimi-native's marker",
          "remove" => "removes the entry",
          _ => "moves the file aside",
        };
        let note = e.problem.as_ref().map(|p| format!(" (ignored: {p})")).unwrap_or_default();
        format!("can be taken over: refreshed once, stored by kimi-native; import {what} (a backup is kept){note}")
      };
      Candidate {
        found: Found {
          id,
          host: kind.host(),
          plugin: plugin.to_string(),
          file: file.clone(),
          entry: e.key.clone(),
          has_refresh_token: e.chain.is_some(),
          expires_at: e.chain.as_ref().and_then(|c| c.expires_at),
          importable,
          reason,
          handover: importable.then_some(handover),
          marker: e.marker,
        },
        kind,
        path: path.to_path_buf(),
        chain: e.chain,
      }
    })
    .collect()
}

/// Every source found, in a fixed order; the official ones last. Blocking (file reads).
fn scan(loc: &Locations) -> Vec<Candidate> {
  let sources: [(Kind, &Option<PathBuf>, Parser); 5] = [
    (
      Kind::OpencodeKimiAuth,
      &loc.opencode_kimi_auth,
      opencode_kimi_auth::parse,
    ),
    (Kind::Opencode, &loc.opencode_auth, opencode::parse),
    (Kind::Pi, &loc.pi_auth, pi::parse),
    (Kind::KimiCode, &loc.kimi_code, official::parse),
    (Kind::KimiCli, &loc.kimi_cli, official::parse),
  ];
  let mut all: Vec<Candidate> = sources
    .iter()
    .filter_map(|(k, p, f)| p.as_ref().map(|p| candidates_of(*k, p, *f)))
    .flatten()
    .collect();
  // pi-kimi-coder and pi-provider-kimi-code reuse (and refresh) an official client's chain:
  // taking that chain over would log the official client out.
  let official: Vec<(String, String, String)> = all
    .iter()
    .filter(|c| c.kind.official())
    .filter_map(|c| {
      c.chain
        .as_ref()
        .map(|ch| (ch.refresh.clone(), c.found.host.to_string(), c.found.file.clone()))
    })
    .collect();
  for cand in all.iter_mut().filter(|c| c.found.importable) {
    let refresh = cand.chain.as_ref().map(|ch| ch.refresh.as_str()).unwrap_or("");
    if let Some((_, client, file)) = official.iter().find(|(r, _, _)| r == refresh) {
      cand.found.importable = false;
      cand.found.handover = None;
      cand.found.reason = format!(
        "shares its refresh chain with the official {client} login in {file}: taking it over would log {client} out; kimi-native already reuses that login read-only while it is valid"
      );
    }
  }
  all
}

/// What `kimi-native import` lists.
pub fn list(loc: &Locations) -> Vec<Found> {
  scan(loc).into_iter().map(|c| c.found).collect()
}

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

fn pick<'a>(all: &'a [Candidate], id: &str) -> Result<&'a Candidate> {
  if let Some(c) = all.iter().find(|c| c.found.id == id) {
    return Ok(c);
  }
  // `opencode` / `pi` name the only importable login of that host.
  let of_host: Vec<&Candidate> = all
    .iter()
    .filter(|c| c.found.host == id && c.found.importable)
    .collect();
  match of_host.as_slice() {
    [one] => Ok(one),
    [] => Err(KimiError::bad_input(format!(
      "No Kimi login `{id}` was found. Run `npx kimi-native import` to list what can be imported."
    ))),
    many => Err(KimiError::bad_input(format!(
      "`{id}` holds several Kimi logins ({}); name one of them.",
      many.iter().map(|c| c.found.id.as_str()).collect::<Vec<_>>().join(", ")
    ))),
  }
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
  use super::*;
  use crate::config::Options;
  use std::fs;

  fn settings(home: &Path) -> Settings {
    let h = home.join("kn").display().to_string();
    let env = move |k: &str| (k == env::HOME).then(|| h.clone());
    Settings::resolve_with(&Options::default(), &env).unwrap()
  }

  fn write(p: &Option<PathBuf>, text: &str) {
    let p = p.as_ref().unwrap();
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
  }

  #[test]
  fn locations_follow_the_hosts_variables() {
    let s = settings(Path::new("/h"));
    let env = |k: &str| match k {
      "XDG_DATA_HOME" => Some("/xdg".to_string()),
      "PI_CODING_AGENT_DIR" => Some("/pi".to_string()),
      _ => None,
    };
    let l = Locations::resolve(&s, &env, Some(Path::new("/h")));
    assert_eq!(l.opencode_auth.unwrap(), Path::new("/xdg/opencode/auth.json"));
    assert_eq!(l.pi_auth.unwrap(), Path::new("/pi/auth.json"));
    assert_eq!(
      l.opencode_kimi_auth.unwrap(),
      Path::new("/h/.opencode-kimi-auth/oauth.json")
    );
    assert_eq!(l.kimi_cli.unwrap(), Path::new("/h/.kimi/credentials/kimi-code.json"));
    assert_eq!(
      l.kimi_code.unwrap(),
      Path::new("/h/.kimi-code/credentials/kimi-code.json")
    );
    let none = |_: &str| None;
    let l = Locations::resolve(&s, &none, Some(Path::new("/h")));
    assert_eq!(
      l.opencode_auth.unwrap(),
      Path::new("/h/.local/share/opencode/auth.json")
    );
    assert_eq!(l.pi_auth.unwrap(), Path::new("/h/.pi/agent/auth.json"));
  }

  #[test]
  fn scan_lists_every_source_and_explains() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let none = |_: &str| None;
    let l = Locations::resolve(&s, &none, Some(dir.path()));
    assert!(list(&l).is_empty(), "nothing found on a clean machine");
    write(
      &l.opencode_kimi_auth,
      r#"{"access_token":"a0","refresh_token":"r0","expires_at":1795235596980}"#,
    );
    write(
      &l.opencode_auth,
      r#"{"x":{"type":"api","key":"k"},"kimi-for-coding-oauth":{"type":"oauth","refresh":"r1","access":"a1","expires":1},"kimi-for-coding":{"type":"oauth","refresh":"r4","access":"a4","expires":1}}"#,
    );
    write(
      &l.pi_auth,
      r#"{"kimi-coding":{"type":"oauth","refresh":"r2","access":"a2","expires":1},"kimi-coder":{"type":"oauth","refresh":"r3","access":"a3","expires":1}}"#,
    );
    // pi-kimi-coder shares kimi-cli's chain.
    write(
      &l.kimi_cli,
      r#"{"access_token":"a3","refresh_token":"r3","expires_at":1795235596.5}"#,
    );
    write(&l.kimi_code, "{\"access_token\":");
    let found = list(&l);
    let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
      ids,
      [
        "opencode-kimi-auth",
        "opencode:kimi-for-coding-oauth",
        "opencode:kimi-for-coding",
        "pi:kimi-coding",
        "pi:kimi-coder",
        "kimi-code",
        "kimi-cli"
      ]
    );
    let by = |id: &str| found.iter().find(|f| f.id == id).unwrap();
    assert_eq!(by("opencode-kimi-auth").handover, Some("move-aside"));
    assert_eq!(by("opencode:kimi-for-coding-oauth").handover, Some("marker"));
    assert_eq!(by("opencode:kimi-for-coding").handover, Some("remove"));
    assert_eq!(by("pi:kimi-coding").handover, Some("remove"));
    let shared = by("pi:kimi-coder");
    assert!(
      !shared.importable && shared.reason.contains("log kimi-cli out"),
      "{}",
      shared.reason
    );
    assert!(!by("kimi-cli").importable && by("kimi-cli").has_refresh_token);
    assert!(by("kimi-code").reason.contains("not valid JSON"));
    assert_eq!(by("opencode-kimi-auth").expires_at, Some(1795235596.98));
    let json = serde_json::to_string(&found).unwrap();
    for secret in ["a0", "r0", "a1", "r1", "r2", "a2", "r3"] {
      assert!(
        !json.contains(&format!("\"{secret}\"")),
        "{secret} leaked into the listing"
      );
    }
    assert!(pick(&scan(&l), "opencode").unwrap_err().message.contains("several"));
    assert_eq!(pick(&scan(&l), "pi").unwrap().found.id, "pi:kimi-coding");
    assert!(pick(&scan(&l), "nope").is_err());
  }

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
