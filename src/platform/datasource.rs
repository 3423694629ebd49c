//! Data sources through `POST {base}/tools` (docs/kimi-wire.md §6.6, kimi-code's kimi-datasource
//! plugin): without an api name the source's description, with one a call of that api.

use super::{json_of, post_json, Call};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{KimiError, Result};
use serde_json::{json, Value};

const WHAT: &str = "Kimi data source";

pub fn request_body(name: &str, api: Option<&str>, params: Option<Value>) -> Result<Vec<u8>> {
  if name.trim().is_empty() {
    return Err(KimiError::bad_input("datasource needs a data source name."));
  }
  let params = match params {
    None | Some(Value::Null) => json!({}),
    Some(p @ Value::Object(_)) => p,
    Some(_) => return Err(KimiError::bad_input("datasource params must be an object.")),
  };
  let body = match api.map(str::trim).filter(|a| !a.is_empty()) {
    None => json!({"method": "get_data_source_desc", "params": {"name": name}}),
    Some(api) => json!({
      "method": "call_data_source_tool",
      "params": {"data_source_name": name, "api_name": api, "params": params}
    }),
  };
  Ok(serde_json::to_vec(&body).unwrap_or_default())
}

pub async fn datasource(
  settings: &Settings,
  name: &str,
  api: Option<&str>,
  params: Option<Value>,
  call: &Call,
) -> Result<Value> {
  let body = request_body(name, api, params)?;
  call
    .run(WHAT, async {
      let reply = post_json(settings, WHAT, c::TOOLS_PATH, &body, None).await?;
      json_of(WHAT, &reply)
    })
    .await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn bodies_follow_the_plugin() {
    assert_eq!(
      request_body("weather", None, None).unwrap(),
      br#"{"method":"get_data_source_desc","params":{"name":"weather"}}"#
    );
    assert_eq!(
      request_body("weather", Some("now"), Some(json!({"city":"x"}))).unwrap(),
      br#"{"method":"call_data_source_tool","params":{"data_source_name":"weather","api_name":"now","params":{"city":"x"}}}"#
    );
    assert!(request_body("", None, None).is_err());
    assert!(request_body("w", Some("a"), Some(json!([1]))).is_err());
  }
}
