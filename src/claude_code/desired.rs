//! What setup writes into Claude Code's settings: the helper, the API base, the account's
//! default model for the main model and every alias, its context window, and the helper TTL.

use crate::config::Settings;
use crate::constants::{self as c, env};
use crate::models::ModelInfo;
use serde::{Deserialize, Serialize};

/// One key kimi-native sets, as a dotted path (`apiKeyHelper`, `env.ANTHROPIC_MODEL`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
  pub key: String,
  pub value: String,
}

pub(super) fn env_key(name: &str) -> String {
  format!("env.{name}")
}

/// What setup writes: the helper, the API base, the account's default model for the main model
/// and every alias, its context window, and the helper TTL. Claude Code reads `env` values as
/// strings only.
pub fn desired(settings: &Settings, helper: &str, models: &[ModelInfo]) -> Vec<Entry> {
  let (model, context) = match crate::models::default_model(models) {
    // A list without a window (Python's tolerance makes it 0) gets the plan's.
    Some(m) => (
      m.id.clone(),
      if m.context_length > 0 {
        m.context_length
      } else {
        c::DEFAULT_CONTEXT_LENGTH
      },
    ),
    None => (c::DEFAULT_MODEL.to_string(), c::DEFAULT_CONTEXT_LENGTH),
  };
  let mut out = vec![
    Entry {
      key: "apiKeyHelper".into(),
      value: helper.to_string(),
    },
    Entry {
      key: env_key(env::ANTHROPIC_BASE_URL),
      value: crate::shaping::anthropic::sdk_base_url(&settings.base_url),
    },
    Entry {
      key: env_key(env::ANTHROPIC_MODEL),
      value: model.clone(),
    },
  ];
  for alias in env::ANTHROPIC_ALIAS_MODELS {
    out.push(Entry {
      key: env_key(alias),
      value: model.clone(),
    });
  }
  out.push(Entry {
    key: env_key(env::CLAUDE_MAX_CONTEXT_TOKENS),
    value: context.to_string(),
  });
  out.push(Entry {
    key: env_key(env::CLAUDE_HELPER_TTL_MS),
    value: c::CLAUDE_CODE_HELPER_TTL_MS.to_string(),
  });
  out
}

#[cfg(test)]
mod tests {
  use super::super::tests::{setup, HELPER};
  use super::*;

  #[test]
  fn desired_keys_follow_the_account_and_the_configured_base() {
    let (_d, settings, _) = setup();
    let models = vec![ModelInfo {
      id: "kimi-k9".into(),
      context_length: 131072,
      ..Default::default()
    }];
    let want = desired(&settings, HELPER, &models);
    let value = |k: &str| want.iter().find(|e| e.key == k).map(|e| e.value.as_str());
    assert_eq!(value("apiKeyHelper"), Some(HELPER));
    assert_eq!(value("env.ANTHROPIC_BASE_URL"), Some("http://127.0.0.1:9/coding"));
    assert_eq!(value("env.ANTHROPIC_MODEL"), Some("kimi-k9"));
    assert_eq!(value("env.ANTHROPIC_DEFAULT_HAIKU_MODEL"), Some("kimi-k9"));
    assert_eq!(value("env.CLAUDE_CODE_MAX_CONTEXT_TOKENS"), Some("131072"));
    assert_eq!(value("env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS"), Some("300000"));
    // No account list (not logged in): the plan's default model and window.
    let fallback = desired(&settings, HELPER, &[]);
    assert!(fallback.iter().any(|e| e.value == c::DEFAULT_MODEL));
  }
}
