//! The core options object every call takes.

use crate::config::{Options, Settings};
use crate::error::KimiError;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(super) fn options(v: &Option<Value>) -> crate::error::Result<Options> {
  match v {
    None | Some(Value::Null) => Ok(Options::default()),
    Some(obj @ Value::Object(_)) => serde_json::from_value(obj.clone())
      .map_err(|e| KimiError::bad_input(format!("Invalid options: {e}. Option values must be strings."))),
    Some(_) => Err(KimiError::bad_input("Options must be an object.")),
  }
}

pub(super) fn settings(v: &Option<Value>) -> crate::error::Result<Settings> {
  Settings::resolve(&options(v)?)
}

/// A call's own arguments (beside the core options): absent or null gives the defaults.
pub(super) fn parse_args<T: DeserializeOwned + Default>(v: Option<Value>, what: &str) -> crate::error::Result<T> {
  match v {
    None | Some(Value::Null) => Ok(T::default()),
    Some(v) => serde_json::from_value(v).map_err(|e| KimiError::bad_input(format!("Invalid {what}: {e}."))),
  }
}
