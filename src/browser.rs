//! Opens the sign-in page. The URL comes from the login server, so it is treated as hostile:
//! only http(s) is accepted, and no shell ever sees it. `webbrowser` passes it as one argument
//! ($BROWSER, the XDG default browser or the desktop's opener on Linux/BSD, NSWorkspace on
//! macOS, the registered http handler's command on Windows); its `hardened` feature refuses
//! every other scheme as a second line of defence.

use crate::error::{KimiError, Result};

/// The URL re-serialised, when it is an absolute http(s) URL with a host.
pub fn checked(url: &str) -> Result<String> {
  reqwest::Url::parse(url.trim())
    .ok()
    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
    .map(|u| u.to_string())
    .ok_or_else(|| {
      KimiError::bad_input("Only http(s) URLs are opened in a browser; open this one yourself if you trust it.")
    })
}

/// Opens `url` in the default browser. `Ok(false)` when no browser could be started (headless
/// machines): the caller has printed the URL anyway.
pub fn open(url: &str) -> Result<bool> {
  let url = checked(url)?;
  Ok(webbrowser::open(&url).is_ok())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn only_http_urls_pass() {
    assert_eq!(
      checked("https://www.kimi.com/code/authorize_device?user_code=AB&x=1;y='\"").unwrap(),
      "https://www.kimi.com/code/authorize_device?user_code=AB&x=1;y=%27%22"
    );
    assert!(checked("http://127.0.0.1:8080/device").is_ok());
    for bad in [
      "file:///etc/passwd",
      "javascript:alert(1)",
      "calc.exe",
      "\\\\server\\share",
      "ms-settings:",
      "",
      "https://",
      "data:text/html,<script>1</script>",
    ] {
      assert_eq!(checked(bad).unwrap_err().code, crate::error::Code::BadInput, "{bad}");
    }
  }
}
