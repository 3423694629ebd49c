//! Request shaping for `/chat/completions` bodies (kimi-wire §6.1, §6.2, §7): a pure function
//! of the body and the options. Hosts that swap `fetch` get it applied by the fetch; others
//! call `shapeRequest` themselves.

use crate::config::Profile;
use crate::constants as c;
use crate::models::ModelInfo;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default)]
pub struct ShapeOptions {
  pub profile: Option<Profile>,
  /// Model id to force; otherwise a discovered id is kept and anything else becomes the default.
  pub model: Option<String>,
  pub effort: Option<String>,
  pub session_id: Option<String>,
  /// Discovered models (first = default).
  pub models: Vec<ModelInfo>,
  /// `thinking.keep` value; `None` drops it (KIMI_MODEL_THINKING_KEEP off-values).
  pub keep: Option<String>,
}

/// `keep` as kimi-code resolves it: env `KIMI_MODEL_THINKING_KEEP`, else "all"; off-values drop it.
pub fn keep_from_env() -> Option<String> {
  match std::env::var(c::env::THINKING_KEEP) {
    Ok(v) => {
      let t = v.trim().to_ascii_lowercase();
      if ["0", "false", "no", "off", "none", "null"].contains(&t.as_str()) {
        None
      } else if t.is_empty() {
        Some(c::THINKING_KEEP.into())
      } else {
        Some(v.trim().to_string())
      }
    }
    Err(_) => Some(c::THINKING_KEEP.into()),
  }
}

/// Maps a host level onto the model's valid efforts: exact match first; then low/minimal →
/// the first, high/max/xhigh → the last, medium → the default or the middle entry.
pub fn map_effort(level: &str, valid: &[String], default: Option<&str>) -> Option<String> {
  if valid.is_empty() {
    return None;
  }
  if let Some(hit) = valid.iter().find(|v| v.eq_ignore_ascii_case(level)) {
    return Some(hit.clone());
  }
  let middle = || {
    default
      .map(String::from)
      .filter(|d| valid.contains(d))
      .unwrap_or_else(|| valid[valid.len() / 2].clone())
  };
  Some(match level {
    "minimal" | "low" => valid[0].clone(),
    "high" | "xhigh" | "max" => {
      // Prefer the strongest non-"max" level for "high" when both exist.
      if level == "high" && valid.len() > 2 && valid.last().map(|v| v == "max").unwrap_or(false) {
        valid[valid.len() - 2].clone()
      } else {
        valid[valid.len() - 1].clone()
      }
    }
    _ => middle(),
  })
}

fn is_empty_text_part(p: &Value) -> bool {
  p.get("type").and_then(|t| t.as_str()) == Some("text")
    && p
      .get("text")
      .and_then(|t| t.as_str())
      .map(str::is_empty)
      .unwrap_or(true)
}

fn shape_messages(messages: &mut [Value]) {
  for m in messages.iter_mut() {
    let Some(obj) = m.as_object_mut() else { continue };
    if obj.get("role").and_then(|r| r.as_str()) == Some("developer") {
      obj.insert("role".into(), json!("system"));
    }
    let is_tool_call_turn = obj.get("role").and_then(|r| r.as_str()) == Some("assistant")
      && obj
        .get("tool_calls")
        .and_then(|t| t.as_array())
        .map(|a| !a.is_empty())
        .unwrap_or(false);
    if !is_tool_call_turn {
      continue;
    }
    // The server rejects `[{"type":"text","text":""}]` with 400 "text content is empty".
    let drop = match obj.get_mut("content") {
      Some(Value::String(s)) => s.is_empty(),
      Some(Value::Null) => true,
      Some(Value::Array(parts)) => {
        parts.retain(|p| !is_empty_text_part(p));
        parts.is_empty()
      }
      _ => false,
    };
    if drop {
      obj.shift_remove("content");
    }
  }
}

/// Renames `from` to `to` where it stands (key order is kept: the bytes sent follow the host's
/// body); an existing `to` wins and `from` is just dropped.
fn rename_in_place(obj: &mut Map<String, Value>, from: &str, to: &str) {
  if obj.contains_key(to) {
    obj.shift_remove(from);
  } else if let Some(index) = obj.keys().position(|k| k == from) {
    if let Some(value) = obj.shift_remove(from) {
      obj.shift_insert(index, to.into(), value);
    }
  }
}

/// Shapes a chat-completions body in place. Non-object bodies are left alone. Every edit keeps
/// the order of the keys it does not touch (`shift_*`, never `swap_remove`).
pub fn shape(body: &mut Value, opts: &ShapeOptions) {
  let Some(obj) = body.as_object_mut() else { return };
  let profile = opts.profile.unwrap_or(Profile::Native);
  // kimi-cli never sends `thinking.keep` (golden py-chat.jsonl); kimi-code does (ts-chat-openai.jsonl).
  let keep = match profile {
    Profile::KimiCli => None,
    _ => opts.keep.as_deref(),
  };

  // Model: a forced id, else keep a discovered id, else the default discovered model.
  let requested = obj.get("model").and_then(|m| m.as_str()).map(String::from);
  let model_id = match (&opts.model, &requested) {
    (Some(forced), _) => forced.clone(),
    (None, Some(r)) if opts.models.is_empty() || opts.models.iter().any(|m| &m.id == r) => r.clone(),
    _ => opts
      .models
      .first()
      .map(|m| m.id.clone())
      .unwrap_or_else(|| c::DEFAULT_MODEL.into()),
  };
  obj.insert("model".into(), json!(model_id));
  let info = opts.models.iter().find(|m| m.id == model_id);

  // Effort: explicit option, else the host's (dropped) `reasoning_effort` field.
  let legacy = obj
    .shift_remove("reasoning_effort")
    .and_then(|v| v.as_str().map(String::from));
  let effort = opts
    .effort
    .clone()
    .or(legacy)
    .map(|e| e.trim().to_ascii_lowercase())
    .filter(|e| !e.is_empty());
  match effort {
    Some(effort) => apply_thinking(obj, Some(&effort), info, keep),
    // No effort from the host: what each client sends by default — kimi-code and kimi-cli
    // enable thinking (ts-chat-openai.jsonl, py-chat.jsonl); native leaves the server default.
    None if profile.is_official() && !obj.contains_key("thinking") => apply_thinking(obj, None, info, keep),
    None => {}
  }

  if let Some(sid) = opts.session_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
    // `session_<id>` is kimi-code's convention; the others send the host's id as it is.
    let key = match profile {
      Profile::KimiCode if !sid.starts_with(c::KIMI_CODE_CACHE_KEY_PREFIX) => {
        format!("{}{sid}", c::KIMI_CODE_CACHE_KEY_PREFIX)
      }
      _ => sid.to_string(),
    };
    obj.insert("prompt_cache_key".into(), json!(key));
  }

  // kimi-code sends `max_completion_tokens`; kimi-cli normalises `max_tokens` away.
  rename_in_place(obj, "max_tokens", "max_completion_tokens");

  if let Some(Value::Array(messages)) = obj.get_mut("messages") {
    shape_messages(messages);
  }
}

/// `effort` `None`: thinking on with no effort level (the official clients' default).
fn apply_thinking(obj: &mut Map<String, Value>, effort: Option<&str>, info: Option<&ModelInfo>, keep: Option<&str>) {
  let thinking_type = info.and_then(|m| m.thinking_type.as_deref());
  match effort.unwrap_or("") {
    "auto" => {}
    "off" | "none" | "disabled" => {
      if thinking_type == Some("only") {
        // Cannot be switched off for this model; leave the server default.
        obj.shift_remove("thinking");
      } else {
        obj.insert("thinking".into(), json!({"type": "disabled"}));
      }
    }
    level => {
      if thinking_type == Some("no") || info.map(|m| !m.supports_reasoning).unwrap_or(false) {
        obj.shift_remove("thinking");
        return;
      }
      let mut t = Map::new();
      t.insert("type".into(), json!("enabled"));
      if let (Some(m), Some(_)) = (info, effort) {
        if let Some(e) = m
          .think_efforts
          .as_deref()
          .and_then(|v| map_effort(level, v, m.default_effort.as_deref()))
        {
          t.insert("effort".into(), json!(e));
        }
      }
      if let Some(k) = keep {
        t.insert("keep".into(), json!(k));
      }
      obj.insert("thinking".into(), Value::Object(t));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn model(efforts: Option<&[&str]>, thinking_type: Option<&str>) -> ModelInfo {
    ModelInfo {
      id: "kimi-for-coding".into(),
      context_length: 262144,
      supports_reasoning: true,
      supports_tool_use: true,
      think_efforts: efforts.map(|e| e.iter().map(|s| s.to_string()).collect()),
      default_effort: efforts.map(|_| "high".into()),
      thinking_type: thinking_type.map(String::from),
      ..Default::default()
    }
  }

  fn opts(effort: Option<&str>, efforts: Option<&[&str]>) -> ShapeOptions {
    ShapeOptions {
      effort: effort.map(String::from),
      models: vec![model(efforts, Some("both"))],
      keep: Some("all".into()),
      ..Default::default()
    }
  }

  fn shaped(before: Value, o: &ShapeOptions) -> Value {
    let mut b = before;
    shape(&mut b, o);
    b
  }

  #[test]
  fn effort_levels_with_model_efforts() {
    let o = opts(Some("high"), Some(&["low", "high", "max"]));
    let after = shaped(
      json!({"model":"kimi-for-coding","messages":[],"reasoning_effort":"medium"}),
      &o,
    );
    assert_eq!(
      after,
      json!({"model":"kimi-for-coding","messages":[],"thinking":{"type":"enabled","effort":"high","keep":"all"}})
    );
    let o = opts(Some("medium"), Some(&["low", "high", "max"]));
    assert_eq!(
      shaped(json!({"model":"kimi-for-coding"}), &o)["thinking"]["effort"],
      "high",
      "medium → default"
    );
    let o = opts(Some("low"), Some(&["minimal", "standard", "max"]));
    assert_eq!(shaped(json!({}), &o)["thinking"]["effort"], "minimal");
  }

  #[test]
  fn effort_without_model_efforts_omits_effort() {
    let after = shaped(json!({"model":"kimi-for-coding"}), &opts(Some("low"), None));
    assert_eq!(
      after,
      json!({"model":"kimi-for-coding","thinking":{"type":"enabled","keep":"all"}})
    );
  }

  #[test]
  fn off_and_auto() {
    let after = shaped(
      json!({"model":"kimi-for-coding","thinking":{"type":"enabled"}}),
      &opts(Some("off"), Some(&["low"])),
    );
    assert_eq!(after, json!({"model":"kimi-for-coding","thinking":{"type":"disabled"}}));
    let before = json!({"model":"kimi-for-coding","thinking":{"type":"enabled","effort":"low"}});
    assert_eq!(
      shaped(before.clone(), &opts(Some("auto"), Some(&["low"]))),
      before,
      "auto leaves thinking untouched"
    );
    let none = shaped(
      json!({"model":"kimi-for-coding","reasoning_effort":"high"}),
      &ShapeOptions::default(),
    );
    assert_eq!(
      none["thinking"],
      json!({"type":"enabled"}),
      "legacy reasoning_effort becomes thinking, never sent"
    );
    assert!(none.get("reasoning_effort").is_none());
  }

  #[test]
  fn model_rewrite() {
    let o = opts(None, None);
    assert_eq!(
      shaped(json!({"model":"kimi-k2"}), &o)["model"],
      "kimi-for-coding",
      "unknown → discovered default"
    );
    assert_eq!(shaped(json!({}), &ShapeOptions::default())["model"], "kimi-for-coding");
    let forced = ShapeOptions {
      model: Some("x".into()),
      ..Default::default()
    };
    assert_eq!(shaped(json!({"model":"kimi-for-coding"}), &forced)["model"], "x");
  }

  #[test]
  fn prompt_cache_key_per_profile() {
    let mut o = ShapeOptions {
      session_id: Some("ca2cd754".into()),
      ..Default::default()
    };
    assert_eq!(
      shaped(json!({}), &o)["prompt_cache_key"],
      "ca2cd754",
      "native: the host's id"
    );
    o.profile = Some(Profile::KimiCode);
    assert_eq!(shaped(json!({}), &o)["prompt_cache_key"], "session_ca2cd754");
    o.session_id = Some("session_x".into());
    assert_eq!(shaped(json!({}), &o)["prompt_cache_key"], "session_x");
    o.profile = Some(Profile::KimiCli);
    o.session_id = Some("0b1c".into());
    assert_eq!(shaped(json!({}), &o)["prompt_cache_key"], "0b1c");
  }

  #[test]
  fn roles_and_empty_tool_call_text() {
    let before = json!({"model":"kimi-for-coding","messages":[
      {"role":"developer","content":"rules"},
      {"role":"assistant","content":[{"type":"text","text":""}],"tool_calls":[{"id":"t","type":"function","function":{"name":"Shell","arguments":"{}"}}]},
      {"role":"assistant","content":"","tool_calls":[{"id":"u"}]},
      {"role":"assistant","content":[{"type":"text","text":""},{"type":"text","text":"hi"}],"tool_calls":[{"id":"v"}]},
      {"role":"assistant","content":""}
    ],"max_tokens":100});
    let after = shaped(before, &ShapeOptions::default());
    assert_eq!(
      after,
      json!({"model":"kimi-for-coding","messages":[
        {"role":"system","content":"rules"},
        {"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"Shell","arguments":"{}"}}]},
        {"role":"assistant","tool_calls":[{"id":"u"}]},
        {"role":"assistant","content":[{"type":"text","text":"hi"}],"tool_calls":[{"id":"v"}]},
        {"role":"assistant","content":""}
      ],"max_completion_tokens":100})
    );
  }

  #[test]
  fn thinking_only_and_no_models() {
    let mut o = opts(Some("off"), None);
    o.models = vec![model(None, Some("only"))];
    assert!(shaped(json!({"thinking":{"type":"disabled"}}), &o)
      .get("thinking")
      .is_none());
    o.models = vec![model(None, Some("no"))];
    o.effort = Some("high".into());
    assert!(shaped(json!({}), &o).get("thinking").is_none());
  }

  /// Shapes JSON text the way the fetch path does (parse, shape, serialise) and returns the bytes.
  fn shaped_text(text: &str, o: &ShapeOptions) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    shape(&mut v, o);
    serde_json::to_string(&v).unwrap()
  }

  #[test]
  fn edits_keep_the_key_order_of_the_body() {
    // Bytes, not Values: `Value` equality ignores key order, the server's cache does not.
    let before = r#"{"model":"kimi-k2","reasoning_effort":"high","messages":[{"role":"assistant","content":"","tool_calls":[{"id":"t"}],"name":"x"}],"max_tokens":100,"stream":true,"thinking":{"type":"enabled"},"temperature":1}"#;
    let o = ShapeOptions {
      models: vec![model(None, Some("only"))],
      effort: Some("off".into()),
      ..Default::default()
    };
    assert_eq!(
      shaped_text(before, &o),
      r#"{"model":"kimi-for-coding","messages":[{"role":"assistant","tool_calls":[{"id":"t"}],"name":"x"}],"max_completion_tokens":100,"stream":true,"temperature":1}"#
    );
  }

  #[test]
  fn default_thinking_per_profile_when_the_host_gives_no_effort() {
    let body = r#"{"model":"kimi-for-coding","messages":[],"stream":true}"#;
    let mut o = ShapeOptions {
      models: vec![model(Some(&["low", "high"]), Some("both"))],
      keep: Some("all".into()),
      ..Default::default()
    };
    assert_eq!(shaped_text(body, &o), body, "native leaves the server's default");
    o.profile = Some(Profile::KimiCode);
    // golden ts-chat-openai.jsonl
    assert_eq!(
      shaped_text(body, &o),
      r#"{"model":"kimi-for-coding","messages":[],"stream":true,"thinking":{"type":"enabled","keep":"all"}}"#
    );
    o.profile = Some(Profile::KimiCli);
    // golden py-chat.jsonl: no keep
    assert_eq!(
      shaped_text(body, &o),
      r#"{"model":"kimi-for-coding","messages":[],"stream":true,"thinking":{"type":"enabled"}}"#
    );
    o.effort = Some("high".into());
    assert_eq!(
      shaped(json!({}), &o)["thinking"],
      json!({"type":"enabled","effort":"high"}),
      "kimi-cli never adds keep"
    );
    // A host's own thinking is not overridden by a profile default.
    o.effort = None;
    let own = r#"{"thinking":{"type":"disabled"},"model":"kimi-for-coding"}"#;
    assert_eq!(shaped_text(own, &o), own);
  }

  #[test]
  fn non_object_body_untouched() {
    let mut v = json!([1, 2]);
    shape(&mut v, &ShapeOptions::default());
    assert_eq!(v, json!([1, 2]));
  }
}
