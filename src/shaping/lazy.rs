//! Shaping that parses only what the rules read: the top-level keys they touch and the turns
//! they change. Everything else — message contents, tools, tool outputs — is copied from the
//! host's bytes, runs of untouched turns in one piece. The output is byte for byte what the
//! whole-tree path gives, because the body was checked to be in serde_json's own form.

use super::scan::{self, Entry, Turn};
use super::ShapeOptions;
use serde_json::{Map, Value};

/// Top-level keys the rules read or write; everything else is carried as raw text.
const TOUCHED: [&str; 6] = [
  "model",
  "reasoning_effort",
  "thinking",
  "prompt_cache_key",
  "max_tokens",
  "max_completion_tokens",
];

/// The shaped body, or `None` when the body is not in canonical form (the caller then takes
/// the whole-tree path).
pub(super) fn shape(body: &[u8], opts: &ShapeOptions) -> Option<Vec<u8>> {
  let layout = scan::scan(body)?;
  // The rules run on a small object: touched keys parsed, the rest as placeholders that hold
  // their place in the key order.
  let mut obj = Map::new();
  let mut names = Vec::with_capacity(layout.top.len());
  for e in &layout.top {
    let name: String = serde_json::from_slice(&body[e.key.clone()]).ok()?;
    let value = if TOUCHED.contains(&name.as_str()) {
      serde_json::from_slice(&body[e.value.clone()]).ok()?
    } else {
      Value::Null
    };
    obj.insert(name.clone(), value);
    names.push(name);
  }
  let mut value = Value::Object(obj);
  super::shape(&mut value, opts);
  let Value::Object(obj) = value else { return None };

  let mut out = crate::pool::take(body.len() + 256);
  out.push(b'{');
  for (i, (k, v)) in obj.iter().enumerate() {
    if i > 0 {
      out.push(b',');
    }
    let original = names
      .iter()
      .position(|n| n == k)
      .map(|at| &layout.top[at])
      .filter(|_| !TOUCHED.contains(&k.as_str()));
    match original {
      Some(e) if k == "messages" => {
        out.extend_from_slice(&body[e.key.clone()]);
        out.push(b':');
        turns(body, &layout.turns, &mut out)?;
      }
      Some(e) => out.extend_from_slice(&body[e.span()]),
      None => {
        serde_json::to_writer(&mut out, k).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, v).ok()?;
      }
    }
  }
  out.push(b'}');
  Some(out)
}

/// Writes the `messages` array: turns no rule changes are copied (consecutive ones in one
/// piece, commas included); `developer` turns and assistant tool-call turns are rewritten.
fn turns(body: &[u8], list: &[Turn], out: &mut Vec<u8>) -> Option<()> {
  out.push(b'[');
  // The run of turns copied as they are and not yet written.
  let mut run: Option<std::ops::Range<usize>> = None;
  for (i, t) in list.iter().enumerate() {
    match ruled(body, t) {
      None => match run.as_mut() {
        Some(r) => r.end = t.span.end,
        None => run = Some(if i > 0 { t.span.start - 1 } else { t.span.start }..t.span.end),
      },
      Some(m) => {
        if let Some(r) = run.take() {
          out.extend_from_slice(&body[r]);
        }
        if i > 0 {
          out.push(b',');
        }
        rewrite(body, t, m, out)?;
      }
    }
  }
  if let Some(r) = run {
    out.extend_from_slice(&body[r]);
  }
  out.push(b']');
  Some(())
}

/// Whether the entry's key is `name` (keys are canonical text: compare the quoted bytes).
fn is_key(body: &[u8], e: &Entry, name: &str) -> bool {
  let k = &body[e.key.clone()];
  k.len() == name.len() + 2 && &k[1..k.len() - 1] == name.as_bytes()
}

fn raw<'b>(body: &'b [u8], t: &Turn, name: &str) -> Option<&'b [u8]> {
  t.entries
    .iter()
    .find(|e| is_key(body, e, name))
    .map(|e| &body[e.value.clone()])
}

/// The turn as the rules see it, when a rule may change it: `role` and `content` parsed, and
/// `tool_calls` as a stand-in: the rules only ask whether it is a non-empty array (in canonical
/// text, anything starting with `[` but `[]`). The rules read no other entry.
fn ruled(body: &[u8], t: &Turn) -> Option<Map<String, Value>> {
  let role = raw(body, t, "role");
  let tool_calls = raw(body, t, "tool_calls").filter(|v| v.starts_with(b"[") && *v != b"[]");
  if role != Some(b"\"developer\"") && !(role == Some(b"\"assistant\"") && tool_calls.is_some()) {
    return None;
  }
  // The scan checked these texts: they parse.
  let parse = |v: &[u8]| serde_json::from_slice(v).unwrap_or(Value::Null);
  let mut m = Map::new();
  m.insert("role".into(), role.map_or(Value::Null, parse));
  if tool_calls.is_some() {
    m.insert("tool_calls".into(), Value::Array(vec![Value::Null]));
  }
  if let Some(content) = raw(body, t, "content") {
    m.insert("content".into(), parse(content));
  }
  Some(m)
}

/// Applies the turn rules to `m` and writes the turn: `role` and `content` as the rules left
/// them (dropped ones are not written), every other entry from the host's bytes.
fn rewrite(body: &[u8], t: &Turn, m: Map<String, Value>, out: &mut Vec<u8>) -> Option<()> {
  let mut v = Value::Object(m);
  super::shape_messages(std::slice::from_mut(&mut v));
  let Value::Object(m) = v else { return None };
  out.push(b'{');
  let mut first = true;
  for e in &t.entries {
    let ruled = ["role", "content"].into_iter().find(|n| is_key(body, e, n));
    let value = match ruled {
      Some(name) => match m.get(name) {
        Some(v) => Some(v),
        None => continue,
      },
      None => None,
    };
    if !first {
      out.push(b',');
    }
    first = false;
    match value {
      Some(v) => {
        out.extend_from_slice(&body[e.key.clone()]);
        out.push(b':');
        serde_json::to_writer(&mut *out, v).ok()?;
      }
      None => out.extend_from_slice(&body[e.span()]),
    }
  }
  out.push(b'}');
  Some(())
}
