//! Shaping for the Anthropic-compatible route, `POST {base}/messages?beta=true` (docs/kimi-wire.md §8,
//! golden ts-chat-anthropic): the counterpart of `shaping::shape` for the other dialect.
//! `metadata.user_id` carries the session key, thinking is `{"type":"enabled"}` plus
//! `output_config.effort`, kept thinking is `context_management` with its beta header, and the
//! body keys go in kimi-code's order. Authentication (`x-api-key`) is set by the fetch.

use super::{session_key, thinking, ShapeOptions, Thinking};
use crate::config::Profile;
use serde_json::{json, Map, Value};

/// Beta flag that `context_management` needs (docs/kimi-wire.md §8).
pub const CONTEXT_MANAGEMENT_BETA: &str = "context-management-2025-06-27";
/// Beta flag kimi-code's Kimi trait removes (docs/kimi-wire.md §8).
const INTERLEAVED_THINKING_BETA: &str = "interleaved-thinking-2025-05-14";
/// kimi-code's body key order (docs/kimi-wire.md §8); other keys follow in the host's order.
const KEY_ORDER: [&str; 10] = [
  "model",
  "max_tokens",
  "metadata",
  "thinking",
  "output_config",
  "context_management",
  "system",
  "messages",
  "tools",
  "stream",
];

/// The base an Anthropic SDK (Claude Code's) appends `/v1/messages` to: the coding base
/// without its trailing `/v1`, as kimi-code's `stripTrailingV1` does (docs/kimi-wire.md §8).
pub fn sdk_base_url(base_url: &str) -> String {
  let base = base_url.trim_end_matches('/');
  base.strip_suffix("/v1").unwrap_or(base).to_string()
}

/// True for a request on the Anthropic route.
pub fn is_messages(url: &str) -> bool {
  let path = url.split(['?', '#']).next().unwrap_or(url);
  path.ends_with("/messages")
}

/// The URL with `beta=true`, as the official client's beta API sends it.
pub fn with_beta_query(url: &str) -> String {
  let (base, fragment) = match url.split_once('#') {
    Some((b, f)) => (b, Some(f)),
    None => (url, None),
  };
  let has_beta = base
    .split_once('?')
    .map(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some("beta")))
    .unwrap_or(false);
  let mut out = base.to_string();
  if !has_beta {
    out.push(if base.contains('?') { '&' } else { '?' });
    out.push_str("beta=true");
  }
  if let Some(f) = fragment {
    out.push('#');
    out.push_str(f);
  }
  out
}

/// The `anthropic-beta` value to send: the host's flags without interleaved thinking, plus
/// context management when the body asks for it.
pub fn beta_header(host_value: Option<&str>, body: &Value) -> Option<String> {
  let mut flags: Vec<String> = host_value
    .unwrap_or("")
    .split(',')
    .map(str::trim)
    .filter(|f| !f.is_empty() && *f != INTERLEAVED_THINKING_BETA)
    .map(String::from)
    .collect();
  if body.get("context_management").is_some() && !flags.iter().any(|f| f == CONTEXT_MANAGEMENT_BETA) {
    flags.push(CONTEXT_MANAGEMENT_BETA.into());
  }
  (!flags.is_empty()).then(|| flags.join(","))
}

/// Shapes a Messages API body in place. Non-object bodies are left alone.
pub fn shape(body: &mut Value, opts: &ShapeOptions) {
  let Some(obj) = body.as_object_mut() else { return };
  let profile = opts.profile.unwrap_or(Profile::KimiCode);

  let model_id = super::model_id(obj.get("model").and_then(|m| m.as_str()), opts);
  obj.insert("model".into(), json!(model_id));
  let info = opts.models.iter().find(|m| m.id == model_id);

  let effort = opts
    .effort
    .as_deref()
    .map(|e| e.trim().to_ascii_lowercase())
    .filter(|e| !e.is_empty() && e != "auto");
  if let Some(effort) = effort {
    obj.remove("output_config");
    obj.remove("context_management");
    match thinking(Some(&effort), info) {
      // `auto` was taken out above: the host's body stands.
      Thinking::ServerDefault => {}
      Thinking::Omit => {
        obj.remove("thinking");
      }
      Thinking::Disabled => {
        obj.insert("thinking".into(), json!({"type": "disabled"}));
      }
      Thinking::Enabled(level) => {
        // Kimi takes no `budget_tokens`: the effort goes in `output_config`.
        obj.insert("thinking".into(), json!({"type": "enabled"}));
        if let Some(e) = level {
          obj.insert("output_config".into(), json!({"effort": e}));
        }
        if let Some(k) = opts.keep.as_deref() {
          obj.insert(
            "context_management".into(),
            json!({"edits": [{"type": "clear_thinking_20251015", "keep": k}]}),
          );
        }
      }
    }
  }

  if let Some(key) = session_key(profile, opts) {
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
      m.insert("user_id".into(), json!(key));
    }
  }

  let mut ordered = Map::new();
  for k in KEY_ORDER {
    if let Some(v) = obj.remove(k) {
      ordered.insert(k.into(), v);
    }
  }
  ordered.append(obj);
  *obj = ordered;
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::models::ModelInfo;

  fn opts(effort: Option<&str>) -> ShapeOptions {
    ShapeOptions {
      profile: Some(Profile::KimiCode),
      model: None,
      effort: effort.map(String::from),
      session_id: Some("1174f432-73a5-4d2f-8b94-9876761b9a12".into()),
      models: vec![ModelInfo {
        id: "kimi-for-coding".into(),
        context_length: 262144,
        supports_reasoning: true,
        supports_tool_use: true,
        think_efforts: Some(vec!["low".into(), "high".into(), "max".into()]),
        default_effort: Some("high".into()),
        thinking_type: Some("both".into()),
        ..Default::default()
      }],
      keep: Some("all".into()),
    }
  }

  fn sdk_body() -> Value {
    // What an Anthropic SDK sends: its own key order, budget-style thinking.
    json!({"model":"kimi-for-coding","max_tokens":262144,"system":[{"type":"text","text":"S"}],
      "messages":[{"role":"user","content":"hello"}],"tools":[],"stream":true,
      "thinking":{"type":"enabled","budget_tokens":1024}})
  }

  #[test]
  fn thinking_on_matches_the_golden_order_and_fields() {
    let mut b = sdk_body();
    shape(&mut b, &opts(Some("high")));
    let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, KEY_ORDER.to_vec());
    assert_eq!(
      b["metadata"],
      json!({"user_id":"session_1174f432-73a5-4d2f-8b94-9876761b9a12"})
    );
    assert_eq!(b["thinking"], json!({"type":"enabled"}));
    assert_eq!(b["output_config"], json!({"effort":"high"}));
    assert_eq!(
      b["context_management"],
      json!({"edits":[{"type":"clear_thinking_20251015","keep":"all"}]})
    );
    assert_eq!(
      beta_header(Some("interleaved-thinking-2025-05-14"), &b).as_deref(),
      Some(CONTEXT_MANAGEMENT_BETA)
    );
  }

  #[test]
  fn thinking_off_is_disabled_without_extras() {
    let mut b = sdk_body();
    shape(&mut b, &opts(Some("off")));
    assert_eq!(b["thinking"], json!({"type":"disabled"}));
    assert!(b.get("output_config").is_none() && b.get("context_management").is_none());
    assert_eq!(beta_header(None, &b), None);
  }

  #[test]
  fn beta_query_is_added_once() {
    assert_eq!(
      with_beta_query("http://h/coding/v1/messages"),
      "http://h/coding/v1/messages?beta=true"
    );
    assert_eq!(
      with_beta_query("http://h/coding/v1/messages?beta=true"),
      "http://h/coding/v1/messages?beta=true"
    );
    assert_eq!(with_beta_query("http://h/m?x=1"), "http://h/m?x=1&beta=true");
    assert!(is_messages("http://h/coding/v1/messages?beta=true") && !is_messages("http://h/chat/completions"));
  }
}
