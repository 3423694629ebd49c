//! Taking over Kimi logins other plugins hold.

use super::options::settings;
use super::{spawn_coded, to_json};
use crate::{auth, import};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

/// Kimi logins other plugins hold on this machine (no secrets), and which can be taken over.
#[napi(ts_return_type = "Promise<any[]>")]
pub fn import_sources(env: Env, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let loc = import::Locations::from_process(&s);
      Ok(to_json(&auth::blocking(move || Ok(import::list(&loc))).await?))
    },
    |_, v| Ok(v),
  )
}

/// Takes over the login `source` names: one refresh, stored by kimi-native, source handed over.
#[napi(ts_return_type = "Promise<any>")]
pub fn import_login(env: Env, source: String, options: Option<Value>) -> napi::Result<AsyncBlock<Value>> {
  spawn_coded(
    &env,
    async move {
      let s = settings(&options)?;
      let loc = import::Locations::from_process(&s);
      let out = import::import(&s, &loc, &source).await?;
      let mut v = to_json(&out);
      if let Some(obj) = v.as_object_mut() {
        obj.insert("profile".into(), json!(s.profile.as_str()));
      }
      Ok(v)
    },
    |_, v| Ok(v),
  )
}
