//! One error type for the whole core. `code` is stable API for JS (`err.code`); `message`
//! tells the user what to do. Messages are built from fixed text and server-supplied
//! descriptions only — never from a token (see `redact`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
  NotLoggedIn,
  ReloginRequired,
  AccessTerminated,
  ClientNotAllowed,
  AccountSuspended,
  Membership,
  QuotaExceeded,
  RateLimited,
  Network,
  LoginDenied,
  LoginExpired,
  Cancelled,
  OAuth,
  Server,
  Store,
  KeychainUnavailable,
  BadInput,
  Internal,
  /// A platform call (search, fetch, upload, tools) ran past its time limit.
  Timeout,
  /// The service refused this input (e.g. the fetch service's `security_risk`).
  Refused,
  /// The named thing (file, data source) does not exist.
  NotFound,
  /// A host-chosen server that is not Kimi's and that the user's environment does not name:
  /// no credential goes there (docs/security.md).
  UntrustedOrigin,
  /// A change to another program's files (import, setup) was not confirmed: off a terminal it
  /// needs `--yes`. Raised by the CLI.
  ConfirmationRequired,
  /// The running pi lacks what the extension needs (its pi-ai). Raised by the pi adapter.
  PiHost,
  /// A host's own provider failed without a kimi-native code. Raised by the openclaw adapter.
  ProviderError,
  /// The code of the official-profile process warning (not an error).
  OfficialProfile,
}

impl Code {
  pub fn as_str(self) -> &'static str {
    match self {
      Code::NotLoggedIn => "KIMI_NOT_LOGGED_IN",
      Code::ReloginRequired => "KIMI_RELOGIN_REQUIRED",
      Code::AccessTerminated => "KIMI_ACCESS_TERMINATED",
      Code::ClientNotAllowed => "KIMI_CLIENT_NOT_ALLOWED",
      Code::AccountSuspended => "KIMI_ACCOUNT_SUSPENDED",
      Code::Membership => "KIMI_MEMBERSHIP",
      Code::QuotaExceeded => "KIMI_QUOTA_EXCEEDED",
      Code::RateLimited => "KIMI_RATE_LIMITED",
      Code::Network => "KIMI_NETWORK",
      Code::LoginDenied => "KIMI_LOGIN_DENIED",
      Code::LoginExpired => "KIMI_LOGIN_EXPIRED",
      Code::Cancelled => "KIMI_CANCELLED",
      Code::OAuth => "KIMI_OAUTH",
      Code::Server => "KIMI_SERVER",
      Code::Store => "KIMI_STORE",
      Code::KeychainUnavailable => "KIMI_KEYCHAIN_UNAVAILABLE",
      Code::BadInput => "KIMI_BAD_INPUT",
      Code::Internal => "KIMI_INTERNAL",
      Code::Timeout => "KIMI_TIMEOUT",
      Code::Refused => "KIMI_REFUSED",
      Code::NotFound => "KIMI_NOT_FOUND",
      Code::UntrustedOrigin => "KIMI_UNTRUSTED_ORIGIN",
      Code::ConfirmationRequired => "KIMI_CONFIRMATION_REQUIRED",
      Code::PiHost => "KIMI_PI_HOST",
      Code::ProviderError => "KIMI_PROVIDER_ERROR",
      Code::OfficialProfile => "KIMI_OFFICIAL_PROFILE",
    }
  }

  /// Every code, for `constants().errorCodes` (JS reads the codes from there, never restates them).
  pub const ALL: [Code; 26] = [
    Code::NotLoggedIn,
    Code::ReloginRequired,
    Code::AccessTerminated,
    Code::ClientNotAllowed,
    Code::AccountSuspended,
    Code::Membership,
    Code::QuotaExceeded,
    Code::RateLimited,
    Code::Network,
    Code::LoginDenied,
    Code::LoginExpired,
    Code::Cancelled,
    Code::OAuth,
    Code::Server,
    Code::Store,
    Code::KeychainUnavailable,
    Code::BadInput,
    Code::Internal,
    Code::Timeout,
    Code::Refused,
    Code::NotFound,
    Code::UntrustedOrigin,
    Code::ConfirmationRequired,
    Code::PiHost,
    Code::ProviderError,
    Code::OfficialProfile,
  ];

  /// The JS key of a code: its string without the `KIMI_` prefix (`NOT_LOGGED_IN`).
  pub fn key(self) -> &'static str {
    &self.as_str()["KIMI_".len()..]
  }
}

#[derive(Debug, Clone)]
pub struct KimiError {
  pub code: Code,
  pub message: String,
  pub status: Option<u16>,
  pub retry_after: Option<f64>,
}

pub type Result<T> = std::result::Result<T, KimiError>;

impl KimiError {
  pub fn new(code: Code, message: impl Into<String>) -> Self {
    KimiError {
      code,
      message: message.into(),
      status: None,
      retry_after: None,
    }
  }
  pub fn with_status(mut self, status: u16) -> Self {
    self.status = Some(status);
    self
  }
  pub fn with_retry_after(mut self, secs: Option<f64>) -> Self {
    self.retry_after = secs;
    self
  }
  pub fn not_logged_in() -> Self {
    KimiError::new(
      Code::NotLoggedIn,
      "Not logged in to Kimi For Coding. Run `npx kimi-native login`.",
    )
  }
  pub fn relogin(detail: &str) -> Self {
    KimiError::new(
      Code::ReloginRequired,
      format!("Your Kimi login is no longer valid ({detail}). Run `npx kimi-native login` to sign in again."),
    )
  }
  pub fn cancelled() -> Self {
    KimiError::new(Code::Cancelled, "The operation was cancelled.")
  }
  pub fn bad_input(message: impl Into<String>) -> Self {
    KimiError::new(Code::BadInput, message)
  }
  pub fn internal(message: impl Into<String>) -> Self {
    KimiError::new(Code::Internal, message)
  }
  pub fn store(message: impl Into<String>) -> Self {
    KimiError::new(Code::Store, message)
  }

  /// Transport failure (DNS, connect, TLS, reset, timeout) with a hint on what to check. Names
  /// only the origin of the request, never its path or query (they can carry a key or a user's
  /// data), although reqwest's own text says "for url (<the whole URL>)".
  pub fn network(what: &str, err: &reqwest::Error) -> Self {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
      if !chain.is_empty() {
        chain.push_str(": ");
      }
      chain.push_str(&e.to_string());
      source = e.source();
    }
    if let Some(url) = err.url() {
      chain = chain.replace(url.as_str(), &url.origin().ascii_serialization());
    }
    let hint = if err.is_timeout() {
      "the server did not answer in time"
    } else if chain.contains("certificate") || chain.contains("UnknownIssuer") {
      "TLS verification failed; behind a corporate proxy set SSL_CERT_FILE to its CA bundle"
    } else {
      "check your connection; HTTPS_PROXY / NO_PROXY are honoured"
    };
    KimiError::new(Code::Network, format!("{what} failed: {} ({hint}).", redact(&chain)))
  }
}

impl fmt::Display for KimiError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}: {}", self.code.as_str(), self.message)
  }
}

impl std::error::Error for KimiError {}

/// Removes anything that looks like a bearer credential from text that may have come from
/// a server or a URL before it goes into an error message.
pub fn redact(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  for (i, word) in text.split(' ').enumerate() {
    if i > 0 {
      out.push(' ');
    }
    let looks_secret = word.len() >= 24
      && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=+/".contains(c))
      && word.chars().any(|c| c.is_ascii_digit())
      && word.chars().any(|c| c.is_ascii_alphabetic());
    if looks_secret {
      out.push_str("[redacted]");
    } else {
      out.push_str(word);
    }
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn every_code_is_listed_once_with_its_key() {
    let mut seen = std::collections::HashSet::new();
    for c in Code::ALL {
      assert!(seen.insert(c.as_str()), "{} twice", c.as_str());
      assert_eq!(format!("KIMI_{}", c.key()), c.as_str());
    }
    // A variant missing from ALL would not be caught above: match exhaustively once.
    let listed = |c: Code| match c {
      Code::NotLoggedIn | Code::ReloginRequired | Code::AccessTerminated | Code::ClientNotAllowed => true,
      Code::AccountSuspended | Code::Membership | Code::QuotaExceeded | Code::RateLimited => true,
      Code::Network | Code::LoginDenied | Code::LoginExpired | Code::Cancelled | Code::OAuth => true,
      Code::Server | Code::Store | Code::KeychainUnavailable | Code::BadInput | Code::Internal => true,
      Code::Timeout | Code::Refused | Code::NotFound | Code::UntrustedOrigin => true,
      Code::ConfirmationRequired | Code::PiHost | Code::ProviderError | Code::OfficialProfile => true,
    };
    assert_eq!(Code::ALL.iter().filter(|c| listed(**c)).count(), 26);
  }

  #[test]
  fn redacts_token_like_words() {
    let s = redact("bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc ok");
    assert_eq!(s, "bad token [redacted] ok");
    assert_eq!(
      redact("invalid_grant: refresh token revoked"),
      "invalid_grant: refresh token revoked"
    );
  }

  /// A request whose URL carries a secret in its path and query fails to connect: the message
  /// names the origin only.
  #[tokio::test]
  async fn network_errors_name_only_the_origin() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
      .unwrap()
      .local_addr()
      .unwrap()
      .port();
    let url = format!("http://127.0.0.1:{port}/coding/v1/files/PRIVATE-NAME?key=query-secret");
    let e = crate::http::oauth_client().unwrap().get(&url).send().await.unwrap_err();
    assert!(e.to_string().contains("query-secret"), "reqwest names the URL: {e}");
    let msg = KimiError::network("Calling the Kimi API", &e).message;
    assert!(!msg.contains("query-secret") && !msg.contains("PRIVATE-NAME"), "{msg}");
    assert!(msg.contains(&format!("http://127.0.0.1:{port}")), "{msg}");
  }

  #[test]
  fn display_has_code() {
    assert!(KimiError::not_logged_in()
      .to_string()
      .starts_with("KIMI_NOT_LOGGED_IN: "));
  }
}
