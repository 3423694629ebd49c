//! The redirect engine: sends one hop after another the way WHATWG fetch follows redirects,
//! without ever taking the credential to another origin.

use super::request::{hint, origin_of, passes, FetchRequest, Redirect, Shaped};
use crate::cancel::Cancel;
use crate::config::Settings;
use crate::error::{Code, KimiError, Result};
use bytes::Bytes;

/// WHATWG fetch's redirect limit.
const MAX_REDIRECTS: usize = 20;

/// One hop of a request: what is sent where (changes when a redirect is followed).
struct Hop<'a> {
  method: reqwest::Method,
  url: reqwest::Url,
  body: Option<&'a Bytes>,
}

/// Request headers that describe a body; dropped with the body when a redirect turns the
/// request into a GET (WHATWG fetch "request-body-header name").
fn is_body_header(name: &str) -> bool {
  [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
  ]
  .iter()
  .any(|h| name.eq_ignore_ascii_case(h))
}

async fn send_once(
  http: &reqwest::Client,
  settings: &Settings,
  req: &FetchRequest,
  hop: &Hop<'_>,
  json: bool,
  token: &str,
) -> std::result::Result<reqwest::Response, reqwest::Error> {
  let json_body = json && hop.body.is_some();
  let mut rb = http.request(hop.method.clone(), hop.url.clone());
  for (k, v) in &req.headers {
    // A shaped chat body is JSON whatever generic type the host's fetch defaulted to.
    let generic_type = json_body && k.eq_ignore_ascii_case("content-type") && v.starts_with("text/plain");
    let stale_body_header = hop.body.is_none() && req.body.is_some() && is_body_header(k);
    if passes(settings, k) && !generic_type && !stale_body_header {
      rb = rb.header(k, v);
    }
  }
  if json_body
    && !req
      .headers
      .iter()
      .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && !v.starts_with("text/plain"))
  {
    rb = rb.header("content-type", "application/json");
  }
  let host_ua = hint(&req.headers, "user-agent");
  for (k, v) in crate::identity::request_identity(settings, host_ua.as_deref())
    .headers
    .iter()
  {
    rb = rb.header(k, v);
  }
  // The Anthropic-compatible route authenticates with x-api-key (docs/kimi-wire.md §8).
  if hop.url.path().ends_with("/messages") {
    rb = rb.header("x-api-key", token);
  } else {
    rb = rb.header("Authorization", format!("Bearer {token}"));
  }
  if let Some(b) = hop.body {
    rb = rb.body(b.clone());
  }
  rb.send().await
}

/// Sends the request and follows same-origin redirects the way WHATWG fetch does (303, and
/// 301/302 after a POST, become a GET without the body; at most 20 hops). A redirect to
/// another origin is handed back as is, so the credential never leaves the Kimi API.
pub(super) async fn send_following(
  http: &reqwest::Client,
  settings: &Settings,
  req: &FetchRequest,
  shaped: &Shaped,
  token: &str,
  cancel: &Cancel,
) -> Result<(reqwest::Response, bool)> {
  let url =
    reqwest::Url::parse(&req.url).map_err(|_| KimiError::bad_input("kimi fetch needs an absolute http(s) URL."))?;
  // Checked in `check_target`.
  let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
  let mut hop = Hop {
    method,
    url,
    body: shaped.body.as_ref(),
  };
  let mut redirected = false;
  for hops in 0.. {
    let resp = cancel
      .run(async {
        send_once(http, settings, req, &hop, shaped.json, token)
          .await
          .map_err(|e| KimiError::network("Calling the Kimi API", &e))
      })
      .await?;
    let status = resp.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) || req.redirect == Redirect::Manual {
      return Ok((resp, redirected));
    }
    let Some(location) = resp.headers().get(reqwest::header::LOCATION) else {
      return Ok((resp, redirected));
    };
    if req.redirect == Redirect::Error {
      return Err(KimiError::new(
        Code::Network,
        format!("The Kimi API answered HTTP {status} (a redirect) and the request set redirect: \"error\"."),
      ));
    }
    let next = location
      .to_str()
      .ok()
      .and_then(|l| hop.url.join(l).ok())
      .filter(|u| matches!(u.scheme(), "http" | "https"))
      .ok_or_else(|| {
        KimiError::new(
          Code::Network,
          format!("The Kimi API answered HTTP {status} with an invalid Location header."),
        )
      })?;
    if origin_of(&next) != origin_of(&hop.url) {
      return Ok((resp, redirected));
    }
    if hops >= MAX_REDIRECTS {
      return Err(KimiError::new(
        Code::Network,
        format!("The Kimi API redirected more than {MAX_REDIRECTS} times."),
      ));
    }
    let to_get = status == 303 && hop.method != reqwest::Method::HEAD && hop.method != reqwest::Method::GET
      || matches!(status, 301 | 302) && hop.method == reqwest::Method::POST;
    if to_get {
      hop.method = reqwest::Method::GET;
      hop.body = None;
    }
    hop.url = next;
    redirected = true;
  }
  unreachable!("the loop returns")
}
