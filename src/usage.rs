//! Quota windows from `GET {base}/usages` (docs/kimi-wire.md §6.5): numbers arrive as decimal
//! strings; the top-level `usage` is the weekly window, `limits[]` carry shorter windows.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageWindow {
  pub label: String,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub duration_seconds: Option<f64>,
  pub used: f64,
  pub limit: f64,
  pub remaining: f64,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub reset_time: Option<String>,
}

fn num(v: Option<&Value>) -> Option<f64> {
  match v? {
    Value::Number(n) => n.as_f64(),
    Value::String(s) => s.trim().parse().ok(),
    _ => None,
  }
}

fn reset(obj: &Value) -> Option<String> {
  ["resetTime", "reset_time", "resetAt", "reset_at"]
    .iter()
    .find_map(|k| obj.get(*k).and_then(|v| v.as_str()).map(String::from))
}

fn window(label: String, duration: Option<f64>, detail: &Value) -> Option<UsageWindow> {
  let limit = num(detail.get("limit"))?;
  let used = num(detail.get("used"))
    .or_else(|| num(detail.get("remaining")).map(|r| limit - r))
    .unwrap_or(0.0);
  let remaining = num(detail.get("remaining")).unwrap_or(limit - used);
  Some(UsageWindow {
    label,
    duration_seconds: duration,
    used,
    limit,
    remaining,
    reset_time: reset(detail),
  })
}

fn label_for(seconds: f64) -> String {
  let s = seconds as u64;
  if s.is_multiple_of(604_800) {
    format!("{}w", s / 604_800)
  } else if s.is_multiple_of(86_400) {
    format!("{}d", s / 86_400)
  } else if s.is_multiple_of(3600) {
    format!("{}h", s / 3600)
  } else {
    format!("{}m", s / 60)
  }
}

pub fn parse_usage(payload: &Value) -> Vec<UsageWindow> {
  let mut out = Vec::new();
  if let Some(limits) = payload.get("limits").and_then(|l| l.as_array()) {
    for item in limits {
      let w = item.get("window").unwrap_or(&Value::Null);
      let unit = match w.get("timeUnit").and_then(|u| u.as_str()).unwrap_or("") {
        "TIME_UNIT_MINUTE" => Some(60.0),
        "TIME_UNIT_HOUR" => Some(3600.0),
        "TIME_UNIT_DAY" => Some(86_400.0),
        "TIME_UNIT_WEEK" => Some(604_800.0),
        _ => None,
      };
      let duration = num(w.get("duration")).zip(unit).map(|(d, u)| d * u);
      let label = item
        .get("name")
        .or_else(|| item.get("title"))
        .and_then(|v| v.as_str())
        .map(String::from)
        .or_else(|| duration.map(label_for))
        .unwrap_or_else(|| "window".into());
      if let Some(win) = window(label, duration, item.get("detail").unwrap_or(item)) {
        out.push(win);
      }
    }
  }
  if let Some(weekly) = payload
    .get("usage")
    .and_then(|u| window("weekly".into(), Some(604_800.0), u))
  {
    out.push(weekly);
  }
  if out.is_empty() {
    out.extend(ratio_windows(payload));
  }
  out
}

/// The shape kimi-code 2.1.0's bundle reads: `usages.limit_*.{used_ratio, reset_time}`. Only
/// ratios are given, so used/limit are expressed in percent.
fn ratio_windows(payload: &Value) -> Vec<UsageWindow> {
  let Some(usages) = payload.get("usages").and_then(|u| u.as_object()) else {
    return vec![];
  };
  let known = [
    ("limit_5h", "5h", 18_000.0),
    ("limit_7d", "weekly", 604_800.0),
    ("limit_month_total", "month", 2_592_000.0),
    ("limit_month_code", "month (code)", 2_592_000.0),
  ];
  known
    .iter()
    .filter_map(|(key, label, secs)| {
      let w = usages.get(*key)?;
      let used = num(w.get("used_ratio"))? * 100.0;
      Some(UsageWindow {
        label: (*label).into(),
        duration_seconds: Some(*secs),
        used,
        limit: 100.0,
        remaining: 100.0 - used,
        reset_time: reset(w),
      })
    })
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn parses_documented_shape() {
    let p = json!({"usage":{"used":"40","limit":"1000","resetTime":"2026-08-03T05:20:51Z"},
      "limits":[{"window":{"duration":300,"timeUnit":"TIME_UNIT_MINUTE"},"detail":{"used":"1","limit":"100","resetTime":"2026-08-01T00:00:00Z"}}]});
    let w = parse_usage(&p);
    assert_eq!(w.len(), 2);
    assert_eq!(
      (w[0].label.as_str(), w[0].used, w[0].limit, w[0].remaining),
      ("5h", 1.0, 100.0, 99.0)
    );
    assert_eq!(w[1].label, "weekly");
    assert_eq!(w[1].reset_time.as_deref(), Some("2026-08-03T05:20:51Z"));
    assert!(parse_usage(&json!({"usage":{"used":"x"}})).is_empty());
    let ratios = parse_usage(&json!({"usages":{"limit_5h":{"used_ratio":0.25,"reset_time":"t"}}}));
    assert_eq!(
      (
        ratios[0].label.as_str(),
        ratios[0].used,
        ratios[0].reset_time.as_deref()
      ),
      ("5h", 25.0, Some("t"))
    );
  }
}
