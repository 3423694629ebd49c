//! The account's profile, `GET {base}/me` (docs/kimi-wire.md §6.6), reduced to what a status line
//! needs: no user id, email or phone leaves the core.

use super::{endpoint, json_of, send, Call};
use crate::config::Settings;
use crate::constants as c;
use crate::error::Result;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
  #[serde(skip_serializing_if = "Option::is_none")]
  pub nickname: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub plan: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub plan_level: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub region: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub status: Option<String>,
}

const WHAT: &str = "Reading the Kimi account";

fn text(v: &Value, k: &str) -> Option<String> {
  v.get(k)
    .and_then(|x| x.as_str())
    .filter(|s| !s.is_empty())
    .map(String::from)
}

pub fn parse(payload: &Value) -> Me {
  Me {
    nickname: text(payload, "nickname"),
    plan: text(payload, "user_level_name"),
    plan_level: text(payload, "user_level"),
    region: text(payload, "region"),
    status: text(payload, "status"),
  }
}

/// The raw payload (internal: the upload cache keys on a digest of the user id).
pub async fn raw(settings: &Settings) -> Result<Value> {
  let url = endpoint(settings, c::ME_PATH);
  let reply = send(settings, WHAT, |http| {
    http.get(&url).header("Accept", "application/json")
  })
  .await?;
  json_of(WHAT, &reply)
}

pub async fn me(settings: &Settings, call: &Call) -> Result<Me> {
  call.run(WHAT, async { Ok(parse(&raw(settings).await?)) }).await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn ids_never_leave() {
    let p = serde_json::json!({"user_id":"u-1","global_id":"g","email":"a@b","nickname":"N","user_level":"L2","user_level_name":"Andante","region":"REGION_CN","status":"USER_STATUS_NORMAL","phone":{"number":"1"}});
    let out = serde_json::to_string(&parse(&p)).unwrap();
    assert!(!out.contains("u-1") && !out.contains("a@b") && !out.contains("\"g\""));
    assert!(out.contains("Andante"));
  }
}
