//! Reading other programs' credential files defensively: every shape is optional, a field of
//! the wrong type is reported (never a crash), unknown fields are ignored.

use serde_json::{Map, Value};

/// A refresh chain read from a source. The secrets stay in the core: `Debug` hides them and
/// nothing formats them into a message.
#[derive(Clone, Default, PartialEq)]
pub struct Chain {
  pub access: String,
  pub refresh: String,
  /// Access-token expiry, epoch seconds.
  pub expires_at: Option<f64>,
}

impl std::fmt::Debug for Chain {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(
      f,
      "Chain(expires_at={:?}, refresh={})",
      self.expires_at,
      !self.refresh.is_empty()
    )
  }
}

/// One login as found in a file: a usable chain, or the reason there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
  /// Key in a shared auth.json; `None` for a plugin's own file.
  pub key: Option<String>,
  pub chain: Option<Chain>,
  /// Why the entry cannot be used, or a note about a field that was ignored.
  pub problem: Option<String>,
  /// Already kimi-native's marker: nothing to take over.
  pub marker: bool,
}

fn kind(v: &Value) -> &'static str {
  match v {
    Value::Null => "null",
    Value::Bool(_) => "boolean",
    Value::Number(_) => "number",
    Value::String(_) => "string",
    Value::Array(_) => "array",
    Value::Object(_) => "object",
  }
}

/// The file as a JSON object, or what is wrong with it (in words a user can act on).
pub fn object(text: &str) -> Result<Map<String, Value>, String> {
  match serde_json::from_str::<Value>(text) {
    Ok(Value::Object(m)) => Ok(m),
    Ok(other) => Err(format!("it holds a JSON {}, not an object", kind(&other))),
    Err(e) if e.is_eof() => Err("it is not valid JSON (cut short)".into()),
    Err(e) => Err(format!(
      "it is not valid JSON (line {}, column {})",
      e.line(),
      e.column()
    )),
  }
}

/// A string field: missing or empty is `None`; another type is an error naming the field.
pub fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
  match obj.get(key) {
    None | Some(Value::Null) => Ok(None),
    Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
    Some(Value::String(s)) => Ok(Some(s.clone())),
    Some(other) => Err(format!("`{key}` is a {}, not a string", kind(other))),
  }
}

/// An epoch in seconds or milliseconds (plugins use both; a value past 1e11 cannot be seconds
/// before the year 5000, nor milliseconds after 1973), as epoch seconds.
pub fn epoch(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
  let n = match obj.get(key) {
    None | Some(Value::Null) => return Ok(None),
    Some(Value::Number(n)) => n.as_f64(),
    Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
    Some(other) => return Err(format!("`{key}` is a {}, not a number", kind(other))),
  };
  match n {
    Some(n) if n.is_finite() && n > 0.0 => Ok(Some(if n > 1e11 { n / 1000.0 } else { n })),
    Some(n) if n.is_finite() && n <= 0.0 => Ok(None),
    _ => Err(format!("`{key}` is not a number")),
  }
}

/// An entry of the common `{access_token, refresh_token, expires_at}` / `{access, refresh,
/// expires}` shapes, given the three field names.
pub fn chain_entry(
  key: Option<String>,
  obj: &Map<String, Value>,
  fields: (&str, &str, &str),
  markers: &[&str],
) -> Entry {
  let (access_key, refresh_key, expires_key) = fields;
  let mut notes: Vec<String> = vec![];
  let access = string(obj, access_key).unwrap_or_else(|e| {
    notes.push(e);
    None
  });
  let expires_at = epoch(obj, expires_key).unwrap_or_else(|e| {
    notes.push(e);
    None
  });
  let refresh = match string(obj, refresh_key) {
    Ok(r) => r,
    Err(e) => {
      notes.insert(0, e);
      None
    }
  };
  let is_marker = |v: &Option<String>| v.as_deref().is_some_and(|s| markers.contains(&s));
  if is_marker(&refresh) || is_marker(&access) {
    return Entry {
      key,
      chain: None,
      problem: None,
      marker: true,
    };
  }
  let problem = match (&refresh, notes.is_empty()) {
    (None, true) => Some(format!("no refresh token (`{refresh_key}` is missing)")),
    (_, false) => Some(notes.join("; ")),
    (Some(_), true) => None,
  };
  Entry {
    key,
    chain: refresh.map(|refresh| Chain {
      access: access.unwrap_or_default(),
      refresh,
      expires_at,
    }),
    problem,
    marker: false,
  }
}

/// A host's shared auth.json as far as Kimi goes: the provider ids that hold a Kimi login (and
/// the plugin that writes each), and the marker kimi-native leaves instead of a token.
pub struct HostAuth {
  pub ids: &'static [(&'static str, &'static str)],
  pub unknown_plugin: &'static str,
  pub marker: &'static str,
}

impl HostAuth {
  /// The plugin that writes entry `key`.
  pub fn plugin(&self, key: &str) -> &'static str {
    self
      .ids
      .iter()
      .find(|(id, _)| *id == key)
      .map(|(_, p)| *p)
      .unwrap_or(self.unknown_plugin)
  }

  /// The Kimi OAuth entries of the file; kimi-native's own marker is not listed.
  pub fn parse(&self, text: &str) -> Result<Vec<Entry>, String> {
    let map = object(text)?;
    let ids: Vec<&str> = self.ids.iter().map(|(id, _)| *id).collect();
    Ok(host_entries(
      &map,
      &ids,
      ("access", "refresh", "expires"),
      &[self.marker],
    ))
  }
}

/// Entries of a host's shared auth.json (`{ "<provider id>": {type, ...} }`) under the given
/// provider ids, in the file's order. Non-OAuth entries (API keys) hold no chain and are skipped.
pub fn host_entries(
  map: &Map<String, Value>,
  ids: &[&str],
  fields: (&str, &str, &str),
  markers: &[&str],
) -> Vec<Entry> {
  map
    .iter()
    .filter(|(k, _)| ids.contains(&k.as_str()))
    .filter_map(|(k, v)| {
      let key = Some(k.clone());
      let Value::Object(obj) = v else {
        return Some(Entry {
          key,
          chain: None,
          problem: Some(format!("the entry is a {}, not an object", kind(v))),
          marker: false,
        });
      };
      match obj.get("type") {
        Some(Value::String(t)) if t == "oauth" => Some(chain_entry(key, obj, fields, markers)),
        Some(Value::String(_)) => None,
        Some(other) => Some(Entry {
          key,
          chain: None,
          problem: Some(format!("`type` is a {}, not a string", kind(other))),
          marker: false,
        }),
        None => Some(Entry {
          key,
          chain: None,
          problem: Some("the entry has no `type`".into()),
          marker: false,
        }),
      }
    })
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn object_errors_say_what_is_wrong() {
    assert!(object("{\"a\":").unwrap_err().contains("cut short"));
    assert!(object("[1]").unwrap_err().contains("array"));
    assert!(object("{,}").unwrap_err().contains("line 1"));
    assert_eq!(object("{}").unwrap().len(), 0);
  }

  #[test]
  fn epochs_in_seconds_or_milliseconds() {
    let m = object(r#"{"s":1795235596.5,"ms":1795235596500,"str":"1795235596","bad":true,"zero":0}"#).unwrap();
    assert_eq!(epoch(&m, "s").unwrap(), Some(1795235596.5));
    assert_eq!(epoch(&m, "ms").unwrap(), Some(1795235596.5));
    assert_eq!(epoch(&m, "str").unwrap(), Some(1795235596.0));
    assert_eq!(epoch(&m, "zero").unwrap(), None);
    assert_eq!(epoch(&m, "missing").unwrap(), None);
    assert!(epoch(&m, "bad").unwrap_err().contains("boolean"));
  }

  #[test]
  fn debug_hides_secrets() {
    let c = Chain {
      access: "secret-access".into(),
      refresh: "secret-refresh".into(),
      expires_at: None,
    };
    assert!(!format!("{c:?}").contains("secret"));
    let e = Entry {
      key: None,
      chain: Some(c),
      problem: None,
      marker: false,
    };
    assert!(!format!("{e:?}").contains("secret"));
  }
}
