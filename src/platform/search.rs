//! Web search: `POST {base}/search` with kimi-code's compact `{"text_query":…}` body (golden
//! ts-websearch), plus `limit` when the caller asks for one (kimi-cli sends it, docs/kimi-wire.md §6.8).
//! Whether the service honours `limit` is not documented, so the answer is cut to it here: a
//! caller (a tool budget, a UI row count) never gets more than it asked for.

use super::{json_of, post_json, Call};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
  pub title: String,
  pub url: String,
  pub snippet: String,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub date: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub site_name: Option<String>,
}

const WHAT: &str = "Kimi web search";

pub fn request_body(query: &str, limit: Option<u32>) -> Result<Vec<u8>> {
  if query.trim().is_empty() {
    return Err(KimiError::bad_input("search needs a non-empty query."));
  }
  let mut body = json!({ "text_query": query });
  if let Some(n) = limit {
    if n == 0 {
      return Err(KimiError::bad_input("search limit must be at least 1."));
    }
    body["limit"] = json!(n);
  }
  Ok(serde_json::to_vec(&body).unwrap_or_default())
}

fn text(v: &Value, k: &str) -> Option<String> {
  v.get(k)
    .and_then(|x| x.as_str())
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .map(String::from)
}

pub fn parse_results(payload: &Value) -> Result<Vec<SearchResult>> {
  let list = payload
    .get("search_results")
    .and_then(|r| r.as_array())
    .ok_or_else(|| {
      KimiError::new(
        Code::Server,
        format!("{WHAT}: the answer had no search_results list. Retry shortly."),
      )
    })?;
  Ok(
    list
      .iter()
      .filter_map(|r| {
        Some(SearchResult {
          url: text(r, "url")?,
          title: text(r, "title").unwrap_or_default(),
          snippet: text(r, "snippet").unwrap_or_default(),
          date: text(r, "date"),
          site_name: text(r, "site_name"),
        })
      })
      .collect(),
  )
}

pub async fn search(settings: &Settings, query: &str, limit: Option<u32>, call: &Call) -> Result<Vec<SearchResult>> {
  let body = request_body(query, limit)?;
  call
    .run(WHAT, async {
      let reply = post_json(settings, WHAT, c::SEARCH_PATH, &body, None).await?;
      let mut results = parse_results(&json_of(WHAT, &reply)?)?;
      if let Some(n) = limit {
        results.truncate(n as usize);
      }
      Ok(results)
    })
    .await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn body_matches_kimi_code_and_results_are_mapped() {
    // Byte for byte what golden/ts-websearch.jsonl shows.
    assert_eq!(
      request_body("kimi code", None).unwrap(),
      br#"{"text_query":"kimi code"}"#
    );
    assert_eq!(request_body("q", Some(3)).unwrap(), br#"{"text_query":"q","limit":3}"#);
    assert_eq!(request_body("  ", None).unwrap_err().code, Code::BadInput);
    let p = json!({"search_results":[
      {"site_name":"s","title":"t","url":"u","snippet":"sn","date":""},
      {"title":"no url"}]});
    let r = parse_results(&p).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
      r[0],
      SearchResult {
        title: "t".into(),
        url: "u".into(),
        snippet: "sn".into(),
        date: None,
        site_name: Some("s".into())
      }
    );
    assert_eq!(parse_results(&json!({})).unwrap_err().code, Code::Server);
  }
}
