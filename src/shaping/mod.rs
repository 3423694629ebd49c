//! Request shaping for `/chat/completions` bodies (docs/kimi-wire.md §6.1, §6.2, §7): a pure function
//! of the body and the options. Hosts that swap `fetch` get it applied by the fetch; others
//! call `shapeRequest` themselves. The Anthropic route's dialect is in `anthropic`.

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

/// The model to send: a forced id, else the host's if the account has it (or no list is known),
/// else the account's first model, else the default.
pub(crate) fn model_id(requested: Option<&str>, opts: &ShapeOptions) -> String {
  match (&opts.model, requested) {
    (Some(forced), _) => forced.clone(),
    (None, Some(r)) if opts.models.is_empty() || opts.models.iter().any(|m| m.id == r) => r.to_string(),
    _ => opts
      .models
      .first()
      .map(|m| m.id.clone())
      .unwrap_or_else(|| c::DEFAULT_MODEL.into()),
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

  let model_id = model_id(obj.get("model").and_then(|m| m.as_str()), opts);
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

  if let Some(key) = session_key(profile, opts) {
    obj.insert("prompt_cache_key".into(), json!(key));
  }

  // kimi-code sends `max_completion_tokens`; kimi-cli normalises `max_tokens` away.
  rename_in_place(obj, "max_tokens", "max_completion_tokens");

  if let Some(Value::Array(messages)) = obj.get_mut("messages") {
    shape_messages(messages);
  }
}

/// The session key to send, in both dialects: `session_<id>` is kimi-code's convention; the
/// others send the host's id as it is.
pub(crate) fn session_key(profile: Profile, opts: &ShapeOptions) -> Option<String> {
  let sid = opts.session_id.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
  Some(match profile {
    Profile::KimiCode if !sid.starts_with(c::KIMI_CODE_CACHE_KEY_PREFIX) => {
      format!("{}{sid}", c::KIMI_CODE_CACHE_KEY_PREFIX)
    }
    _ => sid.to_string(),
  })
}

/// What a host's effort level asks of thinking on a model; each dialect writes it its own way.
pub(crate) enum Thinking {
  /// `auto`: the server's default.
  ServerDefault,
  /// The model cannot do as asked (thinking always on, or never): send no `thinking`.
  Omit,
  Disabled,
  /// On, with the model's effort level for the host's when the model has levels.
  Enabled(Option<String>),
}

/// `effort` `None`: thinking on with no effort level (the official clients' default).
pub(crate) fn thinking(effort: Option<&str>, info: Option<&ModelInfo>) -> Thinking {
  let thinking_type = info.and_then(|m| m.thinking_type.as_deref());
  match effort.unwrap_or("") {
    "auto" => Thinking::ServerDefault,
    // Cannot be switched off for this model; leave the server default.
    "off" | "none" | "disabled" if thinking_type == Some("only") => Thinking::Omit,
    "off" | "none" | "disabled" => Thinking::Disabled,
    _ if thinking_type == Some("no") || info.is_some_and(|m| !m.supports_reasoning) => Thinking::Omit,
    level => Thinking::Enabled(effort.and(info).and_then(|m| {
      m.think_efforts
        .as_deref()
        .and_then(|v| map_effort(level, v, m.default_effort.as_deref()))
    })),
  }
}

/// `effort` `None`: thinking on with no effort level (the official clients' default).
fn apply_thinking(obj: &mut Map<String, Value>, effort: Option<&str>, info: Option<&ModelInfo>, keep: Option<&str>) {
  match thinking(effort, info) {
    Thinking::ServerDefault => {}
    Thinking::Omit => {
      obj.shift_remove("thinking");
    }
    Thinking::Disabled => {
      obj.insert("thinking".into(), json!({"type": "disabled"}));
    }
    Thinking::Enabled(level) => {
      let mut t = Map::new();
      t.insert("type".into(), json!("enabled"));
      if let Some(e) = level {
        t.insert("effort".into(), json!(e));
      }
      if let Some(k) = keep {
        t.insert("keep".into(), json!(k));
      }
      obj.insert("thinking".into(), Value::Object(t));
    }
  }
}

/// Shapes JSON text and returns the bytes to send; `None` when the body is not JSON (it is then
/// sent as it is). Output is byte for byte what parsing to a `Value`, [`shape`] and `to_vec`
/// give; a body already in that compact form (what `JSON.stringify` writes) takes the lazy
/// path, which carries message contents, tools and tool outputs through as raw text.
pub fn shape_bytes(body: &[u8], opts: &ShapeOptions) -> Option<Vec<u8>> {
  lazy::shape(body, opts).or_else(|| shape_full(body, opts))
}

/// The whole-tree path: parse everything, shape, serialise. Used for bodies the lazy path
/// declines (whitespace, escapes or numbers that serialising would rewrite, repeated keys).
pub fn shape_full(body: &[u8], opts: &ShapeOptions) -> Option<Vec<u8>> {
  let mut v: Value = serde_json::from_slice(body).ok()?;
  shape(&mut v, opts);
  serde_json::to_vec(&v).ok()
}

pub mod anthropic;
mod lazy;
mod scan;

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

  /// Byte-identity harness: the lazy path against the whole-tree path (today's rules verbatim:
  /// parse to `Value`, `shape`, `to_vec`), over a corpus and every option combination.
  pub(crate) use identity::agent_turn as identity_agent_turn;
  pub(crate) mod identity {
    use super::super::*;
    use super::model;

    /// A small deterministic generator (no dependency, same corpus every run).
    struct Rng(u64);
    impl Rng {
      fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
      }
      fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
      }
      fn text(&mut self, len: usize) -> String {
        const WORDS: &[&str] = &[
          "fn",
          "main()",
          "{",
          "}",
          "\"quoted\"",
          "back\\slash",
          "tab\there",
          "line\nbreak",
          "ünïcødé",
          "日本語",
          "emoji 🦀",
          "\u{1}ctl",
          "</script>",
          "path/to/file.rs",
          "x = 1;",
          "\r\n",
          "\u{7f}",
          "\u{2028}",
        ];
        let mut s = String::new();
        while s.len() < len {
          s.push_str(self.pick(WORDS));
          s.push(' ');
        }
        s
      }
    }

    /// A recorded-looking agent turn: system prompt, tools with schemas, many tool calls and
    /// results, an image, empty text parts on tool-call turns.
    pub(crate) fn agent_turn(seed: u64, turns: usize, result_len: usize) -> Value {
      let mut r = Rng(seed | 1);
      let mut messages = vec![
        json!({"role": if seed.is_multiple_of(2) { "system" } else { "developer" }, "content": r.text(2000)}),
        json!({"role":"user","content":[{"type":"text","text":r.text(300)},
          {"type":"image_url","image_url":{"url":format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(40))}}]}),
      ];
      for t in 0..turns {
        let id = format!("call_{seed}_{t}");
        let content = match t % 4 {
          0 => json!([{"type":"text","text":""}]),
          1 => json!(""),
          2 => Value::Null,
          _ => json!([{"type":"text","text":""},{"type":"text","text":r.text(40)}]),
        };
        messages.push(json!({"role":"assistant","content":content,"tool_calls":[{"id":id,"type":"function",
          "function":{"name":r.pick(&["Shell","ReadFile","Grep"]),"arguments":json!({"path":r.text(20),"n":t}).to_string()}}]}));
        messages.push(json!({"role":"tool","tool_call_id":id,"content":r.text(result_len)}));
        if t % 5 == 4 {
          messages.push(json!({"role":"assistant","content":r.text(200)}));
          messages.push(json!({"role":"user","content":r.text(100)}));
        }
      }
      let tools: Vec<Value> = (0..8)
        .map(|i| {
          json!({"type":"function","function":{"name":format!("tool_{i}"),"description":r.text(200),
          "parameters":{"type":"object","properties":{"path":{"type":"string","description":r.text(60)},
          "limit":{"type":"integer","minimum":1,"maximum":10000,"default":2000},"ratio":{"type":"number","default":0.75}},
          "required":["path"],"additionalProperties":false}}})
        })
        .collect();
      let mut body = json!({"model": r.pick(&["kimi-for-coding","kimi-k2","other"]),"messages":messages,"tools":tools,
        "stream":true,"stream_options":{"include_usage":true},"temperature":0.6,"max_tokens":32000});
      let o = body.as_object_mut().unwrap();
      match seed % 4 {
        0 => {
          o.insert("reasoning_effort".into(), json!("high"));
        }
        1 => {
          o.insert("thinking".into(), json!({"type":"enabled"}));
        }
        2 => {
          o.insert("max_completion_tokens".into(), json!(1000));
          o.insert("prompt_cache_key".into(), json!("host-key"));
        }
        _ => {}
      }
      body
    }

    fn corpus() -> Vec<String> {
      let mut v: Vec<String> = [
        // The bodies of the unit tests above.
        json!({"model":"kimi-for-coding","messages":[],"reasoning_effort":"medium"}),
        json!({"model":"kimi-for-coding"}),
        json!({}),
        json!({"model":"kimi-for-coding","thinking":{"type":"enabled"}}),
        json!({"model":"kimi-for-coding","thinking":{"type":"enabled","effort":"low"}}),
        json!({"model":"kimi-for-coding","reasoning_effort":"high"}),
        json!({"model":"kimi-k2"}),
        json!({"thinking":{"type":"disabled"}}),
        json!({"model":"kimi-for-coding","messages":[
          {"role":"developer","content":"rules"},
          {"role":"assistant","content":[{"type":"text","text":""}],"tool_calls":[{"id":"t","type":"function","function":{"name":"Shell","arguments":"{}"}}]},
          {"role":"assistant","content":"","tool_calls":[{"id":"u"}]},
          {"role":"assistant","content":[{"type":"text","text":""},{"type":"text","text":"hi"}],"tool_calls":[{"id":"v"}]},
          {"role":"assistant","content":""}
        ],"max_tokens":100}),
        json!([1, 2]),
        json!({"messages":{"not":"an array"},"model":null,"reasoning_effort":7}),
        json!({"messages":[1,"x",null,{"role":"assistant","tool_calls":[]},{"role":"assistant","tool_calls":{}}]}),
      ]
      .iter()
      .map(|b| serde_json::to_string(b).unwrap())
      .collect();
      v.push(r#"{"model":"kimi-k2","reasoning_effort":"high","messages":[{"role":"assistant","content":"","tool_calls":[{"id":"t"}],"name":"x"}],"max_tokens":100,"stream":true,"thinking":{"type":"enabled"},"temperature":1}"#.into());
      v.push(r#"{"model":"kimi-for-coding","messages":[],"stream":true}"#.into());
      v.push(r#"{"thinking":{"type":"disabled"},"model":"kimi-for-coding"}"#.into());
      for seed in 0..8 {
        v.push(serde_json::to_string(&agent_turn(seed, 12, 400)).unwrap());
      }
      v
    }

    /// Bodies serde_json would rewrite: the lazy path must decline them (or agree anyway).
    fn awkward() -> Vec<String> {
      let base = r#"{"model":"kimi-k2","messages":[{"role":"tool","content":"X"},{"role":"assistant","content":"","tool_calls":[{"id":"t"}]}],"max_tokens":100}"#;
      let mut v: Vec<String> = [
        "caf\\u00e9",
        "a\\/b",
        "\\u001F",
        "\\u000a",
        "\\u0008",
        "\\ud83e\\udd80",
        "\\ud800",
        "tab\\u0009",
        "\\u0001",
      ]
      .iter()
      .map(|x| base.replace('X', x))
      .collect();
      for n in [
        "1.0",
        "1e5",
        "1E5",
        "-0",
        "00",
        "0.10",
        "18446744073709551616",
        "-9223372036854775809",
        "1.5e300",
        "1e400",
        "-1",
        "0",
        "0.5",
      ] {
        v.push(base.replace("100", n));
        v.push(base.replace("\"X\"", n));
      }
      v.push(base.replace(":[{\"role\"", ": [{\"role\""));
      v.push(format!("{base}\n"));
      v.push(format!(" {base}"));
      v.push(base.replace("\"max_tokens\":100", "\"max_tokens\":100,\"model\":\"x\""));
      v.push(base.replace("{\"role\":\"tool\",", "{\"role\":\"tool\",\"role\":\"developer\","));
      v.push(base.replace(
        "{\"role\":\"tool\",",
        "{\"role\":\"user\",\"content\":{\"a\":1,\"a\":2},",
      ));
      v.push(base.replace("\"X\"", "\"unterminated"));
      // A repeated key deep inside a turn: serde_json keeps the last value, raw text would keep both.
      v.push(base.replace("\"X\"", r#"[{"type":"text","text":"a","text":"b"}]"#));
      v.push(base[..base.len() - 1].to_string());
      v.push(r#"{"model":"kimi-k2","messages":[{"role":"tool","content":"\u0000"}]}"#.into());
      v.push(String::from_utf8_lossy(b"{\"messages\":[{\"role\":\"tool\",\"content\":\"\xff\"}]}").into());
      v
    }

    fn option_matrix(full: bool) -> Vec<ShapeOptions> {
      let efforts: &[&[&str]] = &[&["low", "high", "max"], &["minimal", "standard", "max"]];
      let mut models: Vec<Vec<crate::models::ModelInfo>> = vec![
        vec![],
        vec![model(None, Some("both"))],
        vec![model(Some(efforts[0]), Some("both"))],
        vec![model(None, Some("only"))],
        vec![model(None, Some("no"))],
      ];
      let mut other = model(Some(efforts[1]), None);
      other.id = "other".into();
      models.push(vec![model(Some(efforts[0]), Some("both")), other]);
      let profiles = [
        None,
        Some(Profile::Native),
        Some(Profile::KimiCode),
        Some(Profile::KimiCli),
      ];
      let effort_list: &[Option<&str>] = if full {
        &[
          None,
          Some("off"),
          Some("low"),
          Some("medium"),
          Some("high"),
          Some("none"),
          Some("auto"),
          Some(" MAX "),
        ]
      } else {
        &[None, Some("off"), Some("high")]
      };
      let mut out = vec![];
      for profile in profiles {
        for effort in effort_list {
          for sid in [None, Some("ca2cd754"), Some("session_x"), Some("  ")] {
            for (mi, m) in models.iter().enumerate() {
              if !full && mi % 2 == 1 {
                continue;
              }
              for keep in [Some("all".to_string()), None] {
                out.push(ShapeOptions {
                  profile,
                  model: if mi == 5 && sid.is_some() {
                    Some("forced".into())
                  } else {
                    None
                  },
                  effort: effort.map(String::from),
                  session_id: sid.map(String::from),
                  models: m.clone(),
                  keep,
                });
              }
            }
          }
        }
      }
      out
    }

    #[test]
    fn lazy_shaping_is_byte_identical_on_the_corpus() {
      let bodies = corpus();
      let mut compared = 0;
      for (bi, body) in bodies.iter().enumerate() {
        let big = body.len() > 4096;
        for o in option_matrix(!big) {
          let want = shape_full(body.as_bytes(), &o);
          let lazy = lazy::shape(body.as_bytes(), &o);
          // Messages that are not an array of objects take the full path (rare, still exact).
          let odd_messages = body.contains(r#""messages":{"#) || body.contains(r#""messages":[1"#);
          if body.starts_with('{') && !odd_messages {
            assert!(lazy.is_some(), "corpus body {bi} must take the lazy path");
          }
          let got = shape_bytes(body.as_bytes(), &o);
          assert_eq!(got, want, "body {bi} options {o:?}");
          compared += 1;
        }
      }
      assert!(compared > 5000, "compared {compared}");
    }

    #[test]
    fn bodies_serde_json_would_rewrite_are_still_byte_identical() {
      let mut declined = 0;
      for (bi, body) in awkward().iter().enumerate() {
        for o in option_matrix(false) {
          let want = shape_full(body.as_bytes(), &o);
          if lazy::shape(body.as_bytes(), &o).is_none() {
            declined += 1;
          }
          assert_eq!(shape_bytes(body.as_bytes(), &o), want, "awkward body {bi}: {body}");
        }
      }
      assert!(declined > 0);
      assert!(scan::scan(br#"{"a":"caf\u00e9"}"#).is_none());
      assert!(scan::scan(r#"{"a":"café \u001f \n","b":[1,-2,0.5,null,true]}"#.as_bytes()).is_some());
    }

    #[test]
    fn realistic_megabyte_turn_is_identical_and_lazy() {
      let body = serde_json::to_string(&agent_turn(3, 300, 3000)).unwrap();
      assert!(body.len() > 1_000_000);
      let o = ShapeOptions {
        profile: Some(Profile::KimiCode),
        effort: Some("high".into()),
        session_id: Some("abc".into()),
        models: vec![model(Some(&["low", "high", "max"]), Some("both"))],
        keep: Some("all".into()),
        ..Default::default()
      };
      let lazy = lazy::shape(body.as_bytes(), &o).expect("lazy path");
      assert_eq!(Some(lazy), shape_full(body.as_bytes(), &o));
    }
  }
}

/// Times the shaper without Node (docs/bench.md): `cargo test --release --lib shaping::timing --
/// --ignored --nocapture`, with `SHAPE_FILE=<body.json>` for a body of your own.
#[cfg(test)]
mod timing {
  use super::*;
  #[test]
  #[ignore = "a timing tool, not a test: run it by hand in release (see the module comment)"]
  fn time_shaping() {
    let file = std::env::var("SHAPE_FILE")
      .ok()
      .map(|p| std::fs::read_to_string(p).unwrap())
      .unwrap_or_default();
    let dense = if file.is_empty() {
      serde_json::to_string(&tests::identity_agent_turn(3, 1200, 3000)).unwrap()
    } else {
      String::new()
    };
    let files = [
      include_str!("../fetch/mod.rs"),
      include_str!("scan.rs"),
      include_str!("../../README.md"),
      include_str!("../../lib/index.js"),
    ];
    let mut messages = vec![json!({"role":"system","content":files[2]})];
    let mut t = 0;
    while file.is_empty() && serde_json::to_string(&messages).unwrap().len() < 4_000_000 {
      messages.push(json!({"role":"assistant","content":"","tool_calls":[{"id":format!("c{t}"),"type":"function","function":{"name":"ReadFile","arguments":"{\"path\":\"x\"}"}}]}));
      messages.push(json!({"role":"tool","tool_call_id":format!("c{t}"),"content":files[t % 4]}));
      t += 1;
    }
    let code = serde_json::to_string(&json!({"model":"kimi-for-coding","messages":messages,"stream":true})).unwrap();
    let o = ShapeOptions {
      effort: Some("high".into()),
      session_id: Some("abc".into()),
      ..Default::default()
    };
    let file = std::env::var("SHAPE_FILE")
      .ok()
      .map(|p| std::fs::read_to_string(p).unwrap())
      .unwrap_or_default();
    for (label, body) in [("dense", &dense), ("code", &code), ("file", &file)] {
      if body.is_empty() {
        continue;
      }
      let mb = body.len() as f64 / 1e6;
      let only = std::env::var("ONLY").unwrap_or_default();
      let t = |name: &str, f: &dyn Fn()| {
        if !only.is_empty() && !name.contains(only.as_str()) {
          return;
        }
        for _ in 0..3 {
          f();
        }
        let n: u32 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
        let s = std::time::Instant::now();
        for _ in 0..n {
          f();
        }
        eprintln!(
          "{label} {mb:.2} MB {name}: {:.3} ms/MB",
          s.elapsed().as_secs_f64() * 1e3 / n as f64 / mb
        );
      };
      t("std utf8", &|| {
        std::hint::black_box(std::str::from_utf8(body.as_bytes()).is_ok());
      });
      t("simdutf8", &|| {
        std::hint::black_box(simdutf8::basic::from_utf8(body.as_bytes()).is_ok());
      });
      t("scan", &|| {
        std::hint::black_box(scan::scan(body.as_bytes()));
      });
      t("memcpy", &|| {
        std::hint::black_box(body.as_bytes().to_vec());
      });
      t("shape_bytes", &|| {
        std::hint::black_box(shape_bytes(body.as_bytes(), &o));
      });
      t("serde RawValue", &|| {
        std::hint::black_box(serde_json::from_str::<&serde_json::value::RawValue>(body).is_ok());
      });
    }
  }
}
