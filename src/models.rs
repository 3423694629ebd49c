//! Model discovery (`GET {base}/models`, docs/kimi-wire.md §6.4) and its non-secret cache file.

use crate::config::Settings;
use crate::error::{Code, KimiError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
  pub id: String,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub display_name: Option<String>,
  pub context_length: u64,
  pub supports_reasoning: bool,
  pub supports_image_in: bool,
  pub supports_video_in: bool,
  pub supports_tool_use: bool,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub thinking_type: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub think_efforts: Option<Vec<String>>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub default_effort: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub protocol: Option<String>,
}

/// Parses the `/models` payload with kimi-code's rules: `id` required (items without one are
/// skipped), `supports_tool_use` defaults to true, `think_efforts` only when `support === true`,
/// `supports_thinking_type` overrides `supports_reasoning`. A missing/invalid `context_length`
/// becomes 0 (Python's tolerance) rather than failing the whole list.
pub fn parse_models(payload: &Value) -> Result<Vec<ModelInfo>> {
  let data = payload
    .get("data")
    .and_then(|d| d.as_array())
    .ok_or_else(|| KimiError::new(Code::Server, "The /models response has no `data` list."))?;
  let mut out = Vec::new();
  for item in data {
    let Some(id) = item.get("id").and_then(|v| v.as_str()).filter(|s| !s.is_empty()) else {
      continue;
    };
    let flag = |k: &str| item.get(k).and_then(|v| v.as_bool());
    let thinking_type = item
      .get("supports_thinking_type")
      .and_then(|v| v.as_str())
      .map(String::from);
    let supports_reasoning = match thinking_type.as_deref() {
      Some("only") | Some("both") => true,
      Some("no") => false,
      _ => flag("supports_reasoning").unwrap_or(false),
    };
    let efforts = item
      .get("think_efforts")
      .filter(|t| t.get("support").and_then(|s| s.as_bool()) == Some(true));
    let think_efforts = efforts
      .and_then(|t| t.get("valid_efforts"))
      .and_then(|v| v.as_array())
      .map(|a| {
        a.iter()
          .filter_map(|e| e.as_str().map(String::from))
          .collect::<Vec<_>>()
      })
      .filter(|v| !v.is_empty());
    let default_effort = efforts
      .and_then(|t| t.get("default_effort"))
      .and_then(|v| v.as_str())
      .map(String::from);
    out.push(ModelInfo {
      id: id.to_string(),
      display_name: item.get("display_name").and_then(|v| v.as_str()).map(String::from),
      context_length: item.get("context_length").and_then(|v| v.as_u64()).unwrap_or(0),
      supports_reasoning,
      supports_image_in: flag("supports_image_in").unwrap_or(false),
      supports_video_in: flag("supports_video_in").unwrap_or(false),
      supports_tool_use: flag("supports_tool_use").unwrap_or(true),
      thinking_type,
      think_efforts,
      default_effort,
      protocol: item.get("protocol").and_then(|v| v.as_str()).map(String::from),
    });
  }
  Ok(out)
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
  fetched_at: f64,
  models: Vec<ModelInfo>,
}

fn cache_path(settings: &Settings) -> std::path::PathBuf {
  settings.home.join("models").join(format!("{}.json", settings.slot()))
}

pub fn load_cache(settings: &Settings) -> Option<Vec<ModelInfo>> {
  let text = std::fs::read(cache_path(settings)).ok()?;
  serde_json::from_slice::<CacheFile>(&text).ok().map(|c| c.models)
}

type MemoryEntry = (std::time::Instant, Vec<ModelInfo>);

fn memory() -> &'static std::sync::Mutex<std::collections::HashMap<String, MemoryEntry>> {
  static MEMORY: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, MemoryEntry>>> =
    std::sync::OnceLock::new();
  MEMORY.get_or_init(Default::default)
}

/// The cached list for the request path: the file changes only on login/refresh, so it is
/// re-read at most every 30 s (another process may have refreshed it).
pub fn cached(settings: &Settings) -> Vec<ModelInfo> {
  let key = settings.login_key();
  if let Some((at, m)) = memory().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
    if at.elapsed() < std::time::Duration::from_secs(30) {
      return m.clone();
    }
  }
  let models = load_cache(settings).unwrap_or_default();
  memory()
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .insert(key, (std::time::Instant::now(), models.clone()));
  models
}

pub fn clear_cache(settings: &Settings) {
  let _ = std::fs::remove_file(cache_path(settings));
  memory()
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .remove(&settings.login_key());
}

pub fn save_cache(settings: &Settings, models: &[ModelInfo]) {
  let data = serde_json::to_vec_pretty(&CacheFile {
    fetched_at: crate::token::now_secs(),
    models: models.to_vec(),
  });
  if let Ok(data) = data {
    let _ = crate::store::file::write_atomic(&cache_path(settings), &data);
  }
  memory()
    .lock()
    .unwrap_or_else(|e| e.into_inner())
    .insert(settings.login_key(), (std::time::Instant::now(), models.to_vec()));
}

/// The model a request should use when the host did not name a discovered one.
pub fn default_model(models: &[ModelInfo]) -> Option<&ModelInfo> {
  models.first()
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn clearing_the_cache_also_forgets_the_in_memory_copy() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_string_lossy().to_string();
    let env = move |k: &str| (k == "KIMI_NATIVE_HOME").then(|| home.clone());
    let s = Settings::resolve_with(&crate::config::Options::default(), &env).unwrap();
    let list = parse_models(&json!({"data":[{"id":"m1","context_length":1000}]})).unwrap();
    save_cache(&s, &list);
    assert_eq!(cached(&s).len(), 1);
    clear_cache(&s);
    assert!(load_cache(&s).is_none(), "file removed");
    assert!(cached(&s).is_empty(), "memory forgotten too");
  }

  #[test]
  fn parses_golden_and_rich_payloads() {
    // golden README: the fake server's /models answer
    let golden = json!({"object":"list","data":[{"id":"kimi-for-coding","object":"model","context_length":262144,"display_name":"Kimi-k2.6","supports_reasoning":true,"supports_image_in":true,"supports_video_in":true}]});
    let m = parse_models(&golden).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].context_length, 262144);
    assert!(m[0].supports_reasoning && m[0].supports_tool_use && m[0].think_efforts.is_none());
    let rich = json!({"data":[
      {"context_length":1},
      {"id":"k","context_length":"x","supports_thinking_type":"no","supports_reasoning":true,"supports_tool_use":false,
       "think_efforts":{"support":true,"valid_efforts":["low","high","max"],"default_effort":"high"}},
      {"id":"q","think_efforts":{"support":false,"valid_efforts":["low"]}}]});
    let m = parse_models(&rich).unwrap();
    assert_eq!(m.len(), 2, "items without id are skipped");
    assert!(!m[0].supports_reasoning && !m[0].supports_tool_use);
    assert_eq!(
      m[0].think_efforts.as_deref(),
      Some(&["low".to_string(), "high".into(), "max".into()][..])
    );
    assert_eq!(m[0].default_effort.as_deref(), Some("high"));
    assert!(m[1].think_efforts.is_none(), "support:false ignores the list");
    assert!(parse_models(&json!({"models":[]})).is_err());
  }
}
