//! Finding the logins: every source file read and parsed, each Kimi entry listed with whether
//! it can be taken over and why (no secret in the listing), and a chain an official client
//! owns never offered.

use super::parse::{Chain, Entry};
use super::{official, opencode, opencode_kimi_auth, pi, Locations};
use crate::constants as c;
use crate::error::{KimiError, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
  OpencodeKimiAuth,
  Opencode,
  Pi,
  KimiCode,
  KimiCli,
}

impl Kind {
  pub(super) fn host(self) -> &'static str {
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
pub(super) struct Candidate {
  pub(super) found: Found,
  pub(super) kind: Kind,
  pub(super) path: PathBuf,
  pub(super) chain: Option<Chain>,
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
          opencode::AUTH.plugin(k),
          if k == c::OPENCODE_PROVIDER_ID { "marker" } else { "remove" },
        ),
        (Some(k), Kind::Pi) => (
          format!("pi:{k}"),
          pi::AUTH.plugin(k),
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
pub(super) fn scan(loc: &Locations) -> Vec<Candidate> {
  let sources: [(Kind, &Option<PathBuf>, Parser); 5] = [
    (
      Kind::OpencodeKimiAuth,
      &loc.opencode_kimi_auth,
      opencode_kimi_auth::parse,
    ),
    (Kind::Opencode, &loc.opencode_auth, |t| opencode::AUTH.parse(t)),
    (Kind::Pi, &loc.pi_auth, |t| pi::AUTH.parse(t)),
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

pub(super) fn pick<'a>(all: &'a [Candidate], id: &str) -> Result<&'a Candidate> {
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

#[cfg(test)]
mod tests {
  use super::super::tests::{settings, write};
  use super::*;

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
}
