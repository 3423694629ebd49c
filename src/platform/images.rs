//! Shaping step on the fetch path: inline `data:` images larger than the threshold are
//! uploaded through the Files API and replaced by `ms://<id>` references, once per distinct
//! image (and once per account, through the upload cache). An upload that fails leaves the
//! image inline and yields a warning: the turn goes ahead either way.

use super::{files, Call};
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, Result};
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;

/// The result of [`offload`]: the body to send (None: unchanged) and warnings for the host.
#[derive(Default)]
pub struct Offloaded {
  pub body: Option<Bytes>,
  pub warnings: Vec<String>,
}

/// `(mime, base64 payload)` of a base64 `data:` URL.
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
  let rest = url.strip_prefix("data:")?;
  let (meta, payload) = rest.split_once(',')?;
  let mime = meta.strip_suffix(";base64")?;
  Some((
    if mime.is_empty() {
      "application/octet-stream"
    } else {
      mime
    },
    payload,
  ))
}

/// The `url` strings of every OpenAI `image_url` part, mutable.
fn image_urls(body: &mut Value) -> Vec<&mut Value> {
  let mut out = Vec::new();
  let Some(messages) = body.get_mut("messages").and_then(|m| m.as_array_mut()) else {
    return out;
  };
  for msg in messages {
    let Some(parts) = msg.get_mut("content").and_then(|p| p.as_array_mut()) else {
      continue;
    };
    for part in parts {
      if part.get("type").and_then(|t| t.as_str()) != Some("image_url") {
        continue;
      }
      match part.get_mut("image_url") {
        Some(Value::Object(o)) => {
          if let Some(u) = o.get_mut("url") {
            out.push(u);
          }
        }
        Some(u @ Value::String(_)) => out.push(u),
        _ => {}
      }
    }
  }
  out
}

fn mb(n: usize) -> String {
  format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
}

/// Whether a string starting with `data:` and long enough to decode to more than `threshold`
/// bytes can be in the body, so that a large body without one is not parsed a second time
/// after shaping (code an agent read may well mention `data:` URLs). Only `\u` escapes of
/// printable characters could hide one (`JSON.stringify` writes none: it escapes controls only).
fn may_hold_data_url(body: &[u8], threshold: u64) -> bool {
  // Whether the byte at `at` stands after an odd run of backslashes (it is escaped).
  let escaped = |at: usize| body[..at].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
  let long_enough = |at: usize| {
    // Base64 has no quote or backslash: the string ends at the next quote.
    let rest = &body[at + 1..];
    let len = memchr::memchr(b'"', rest).unwrap_or(rest.len());
    len as u64 / 4 * 3 > threshold
  };
  memchr::memmem::find_iter(body, b"\"data:").any(|at| !escaped(at) && long_enough(at))
    || memchr::memmem::find_iter(body, b"\\u").any(|i| {
      let h = &body[i + 2..body.len().min(i + 6)];
      let control = h.len() == 4 && h.starts_with(b"00") && matches!(h[2], b'0' | b'1');
      !escaped(i) && !control
    })
}

/// Uploads the large inline images of a JSON chat body. `body` is only parsed when it is
/// larger than the threshold (no image in it can exceed the threshold otherwise).
pub async fn offload(settings: &Settings, body: &Bytes, cancel: &Cancel) -> Result<Offloaded> {
  let threshold = settings.upload_threshold_bytes;
  if threshold == 0 || (body.len() as u64) <= threshold {
    return Ok(Offloaded::default());
  }
  if !may_hold_data_url(body, threshold) {
    return Ok(Offloaded::default());
  }
  let Ok(mut json) = serde_json::from_slice::<Value>(body) else {
    return Ok(Offloaded::default());
  };
  let mut out = Offloaded::default();
  // One upload per distinct image within this body: base64 text → outcome.
  let mut done: HashMap<String, Option<String>> = HashMap::new();
  let mut changed = false;
  for slot in image_urls(&mut json) {
    let Some(url) = slot.as_str() else { continue };
    let Some((mime, payload)) = parse_data_url(url) else {
      continue;
    };
    // Decoded size, from the base64 length (exact up to padding).
    if (payload.len() as u64 / 4 * 3) <= threshold {
      continue;
    }
    let reference = match done.get(payload) {
      Some(r) => r.clone(),
      None => {
        let r = match base64::engine::general_purpose::STANDARD.decode(payload.trim()) {
          Err(_) => {
            out
              .warnings
              .push("An inline image is not valid base64; it was sent inline unchanged.".into());
            None
          }
          Ok(data) => {
            let size = data.len();
            let call = Call::new(None, c::SHAPING_UPLOAD_TIMEOUT_MS, cancel.clone());
            match files::upload(settings, Bytes::from(data), mime, None, &call).await {
              Ok(u) => Some(u.url),
              Err(e) if e.code == Code::Cancelled => return Err(e),
              Err(e) => {
                out.warnings.push(format!(
                  "Uploading a {} image to Kimi's Files API failed ({}); it was sent inline instead.",
                  mb(size),
                  e.code.as_str()
                ));
                None
              }
            }
          }
        };
        done.insert(payload.to_string(), r.clone());
        r
      }
    };
    if let Some(r) = reference {
      *slot = Value::String(r);
      changed = true;
    }
  }
  if changed {
    out.body = serde_json::to_vec(&json).ok().map(Bytes::from);
  }
  Ok(out)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn finds_data_urls_in_image_parts_only() {
    let mut body = serde_json::json!({"messages":[
      {"role":"user","content":[{"type":"text","text":"data:x;base64,AAAA"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
      {"role":"user","content":"plain"}]});
    let urls = image_urls(&mut body);
    assert_eq!(urls.len(), 1);
    assert_eq!(parse_data_url(urls[0].as_str().unwrap()), Some(("image/png", "AAAA")));
    assert_eq!(parse_data_url("data:image/png,notbase64"), None);
    assert_eq!(parse_data_url("https://x/y.png"), None);
  }

  #[test]
  fn skips_the_parse_only_when_no_data_url_can_be_there() {
    let url = br#"{"url":"data:image/png;base64,AAAAAAAA"}"#;
    assert!(may_hold_data_url(url, 0));
    // 30 characters from `data:` on, at most 21 bytes decoded: not over a 21-byte threshold.
    assert!(may_hold_data_url(url, 20));
    assert!(!may_hold_data_url(url, 21));
    assert!(
      may_hold_data_url(br#"{"url":"data:image/png;base64,AAAA"#, 0),
      "unterminated"
    );
    // Text that mentions `data:` inside a longer string is not an image URL.
    assert!(!may_hold_data_url(
      br#"{"text":"see data:image/png;base64,AAAAAAAAAAAAAAAA"}"#,
      0
    ));
    assert!(!may_hold_data_url(br#"{"text":"ansi \u001b[0m and \u0000"}"#, 0));
    // `d` escaped: the parse must run.
    assert!(may_hold_data_url(br#"{"url":"\u0064ata:image/png;base64,AAAA"}"#, 0));
    assert!(may_hold_data_url(br#"{"x":"\u00"#, 0));
    // Source code quoted in a tool result: `\\u0064` and `\"data:` are text, not escapes.
    assert!(!may_hold_data_url(
      br#"{"text":"let s = \"\\u0064ata:\"; \"data:image/png;base64,AAAAAAAAAAAAAAAAAAAA\""}"#,
      0
    ));
    assert!(
      may_hold_data_url(br#"{"text":"\\\u0064ata:"}"#, 0),
      "an escaped backslash, then an escape"
    );
    assert!(!may_hold_data_url(b"{}", 0));
  }
}
