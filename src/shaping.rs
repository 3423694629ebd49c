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
      obj.remove("content");
    }
  }
}

/// Shapes a chat-completions body in place. Non-object bodies are left alone.
pub fn shape(body: &mut Value, opts: &ShapeOptions) {
  let Some(obj) = body.as_object_mut() else { return };
  let profile = opts.profile.unwrap_or(Profile::KimiCode);

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
    .remove("reasoning_effort")
    .and_then(|v| v.as_str().map(String::from));
  let effort = opts
    .effort
    .clone()
    .or(legacy)
    .map(|e| e.trim().to_ascii_lowercase())
    .filter(|e| !e.is_empty());
  if let Some(effort) = effort {
    apply_thinking(obj, &effort, info, opts.keep.as_deref());
  }

  if let Some(sid) = opts.session_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
    let key = match profile {
      Profile::KimiCode if !sid.starts_with(c::KIMI_CODE_CACHE_KEY_PREFIX) => {
        format!("{}{sid}", c::KIMI_CODE_CACHE_KEY_PREFIX)
      }
      _ => sid.to_string(),
    };
    obj.insert("prompt_cache_key".into(), json!(key));
  }

  // kimi-code sends `max_completion_tokens`; kimi-cli normalises `max_tokens` away.
  if let Some(max) = obj.remove("max_tokens") {
    obj.entry("max_completion_tokens").or_insert(max);
  }

  if let Some(Value::Array(messages)) = obj.get_mut("messages") {
    shape_messages(messages);
  }
}

fn apply_thinking(obj: &mut Map<String, Value>, effort: &str, info: Option<&ModelInfo>, keep: Option<&str>) {
  let thinking_type = info.and_then(|m| m.thinking_type.as_deref());
  match effort {
    "auto" => {}
    "off" | "none" | "disabled" => {
      if thinking_type == Some("only") {
        // Cannot be switched off for this model; leave the server default.
        obj.remove("thinking");
      } else {
        obj.insert("thinking".into(), json!({"type": "disabled"}));
      }
    }
    level => {
      if thinking_type == Some("no") || info.map(|m| !m.supports_reasoning).unwrap_or(false) {
        obj.remove("thinking");
        return;
      }
      let mut t = Map::new();
      t.insert("type".into(), json!("enabled"));
      if let Some(m) = info {
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

  #[test]
  fn non_object_body_untouched() {
    let mut v = json!([1, 2]);
    shape(&mut v, &ShapeOptions::default());
    assert_eq!(v, json!([1, 2]));
  }
}
