//! The origin rule: a credential goes only to Kimi's own origins for its role, or to an origin
//! the user's own environment names (`KIMI_NATIVE_TRUSTED_ORIGINS`, or the variables that set
//! the hosts). Nothing a host or a project passes as an option can widen it.

use super::url::origin_of;
use super::Settings;
use crate::constants::{self as c, env};
use crate::error::KimiError;

/// What an origin is used for: Kimi's own origins differ per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
  OAuth,
  Api,
}

impl Role {
  fn option_name(self) -> &'static str {
    match self {
      Role::OAuth => "oauthHost",
      Role::Api => "baseUrl",
    }
  }
}

/// True for Kimi's own origins in a role: the OAuth hosts, or the API hosts (both regions).
pub fn is_kimi_origin(url: &str, role: Role) -> bool {
  let urls = match role {
    Role::OAuth => [c::OAUTH_HOST_CN, c::OAUTH_HOST_GLOBAL],
    Role::Api => [c::BASE_URL_CN, c::BASE_URL_GLOBAL],
  };
  let origin = origin_of(url);
  urls.iter().any(|u| origin_of(u) == origin)
}

impl Settings {
  /// Whether a credential may go to this origin: it is Kimi's own for its role, or the user's
  /// environment names it. Nothing a host or a project passes as an option can widen this.
  pub fn may_receive_credentials(&self, url: &str, role: Role) -> bool {
    is_kimi_origin(url, role) || self.env_origins.contains(&origin_of(url))
  }

  /// Why no credential may be used with these settings: the OAuth host or the API base is
  /// neither Kimi's nor named by the user's environment (it came from a host's options, which
  /// a project's configuration can set). Every credential path asks this first.
  pub fn origin_refusal(&self) -> Option<KimiError> {
    let (url, source, role) = [
      (&self.base_url, &self.base_url_source, Role::Api),
      (&self.oauth_host, &self.oauth_host_source, Role::OAuth),
    ]
    .into_iter()
    .find(|(url, _, role)| !self.may_receive_credentials(url, *role))?;
    let origin = origin_of(url);
    Some(KimiError::new(
      crate::error::Code::UntrustedOrigin,
      format!(
        "kimi-native sends no Kimi credential to {origin}: the {} {url} ({}) is not a Kimi server and your environment does not name it. \
         If it is a server you run yourself, name it in your environment ({}={origin}); otherwise remove {} from the host's kimi-native settings.",
        role.option_name(),
        source.describe(),
        env::TRUSTED_ORIGINS,
        role.option_name(),
      ),
    ))
  }

  /// For login output: the OAuth host when it is not Kimi's, so no one is told they are
  /// signing in to Kimi For Coding when they are not.
  pub fn foreign_login_notice(&self) -> Option<String> {
    (!is_kimi_origin(&self.oauth_host, Role::OAuth)).then(|| {
      format!(
        "This login is with {}, which is NOT a Kimi server (oauthHost from {}). Approve it only if you run that server yourself.",
        origin_of(&self.oauth_host),
        self.oauth_host_source.describe()
      )
    })
  }
}

#[cfg(test)]
mod tests {
  use super::super::{env_of, Options};
  use super::*;

  #[test]
  fn a_server_named_only_by_options_gets_no_credential_unless_the_environment_names_it() {
    let opts = |base: &str, oauth: Option<&str>| Options {
      base_url: Some(base.into()),
      oauth_host: oauth.map(String::from),
      ..Default::default()
    };
    let refused = |o: &Options, env: &[(&str, &str)]| {
      let mut all = vec![("KIMI_NATIVE_HOME", "/x")];
      all.extend_from_slice(env);
      Settings::resolve_with(o, &env_of(&all)).unwrap().origin_refusal()
    };
    assert!(refused(&Options::default(), &[]).is_none(), "Kimi's defaults");
    assert!(refused(&opts(c::BASE_URL_GLOBAL, Some(c::OAUTH_HOST_GLOBAL)), &[]).is_none());
    // Kimi's, but not its API: a key for the API does not go to the login host.
    let e = refused(&opts("https://auth.kimi.com/coding/v1", None), &[]).unwrap();
    assert_eq!(e.code, crate::error::Code::UntrustedOrigin);
    let e = refused(&opts("http://127.0.0.1:8/coding/v1", None), &[]).unwrap();
    assert!(
      e.message.contains("http://127.0.0.1:8") && e.message.contains("baseUrl") && e.message.contains("(option)")
    );
    assert!(
      e.message.contains("KIMI_NATIVE_TRUSTED_ORIGINS=http://127.0.0.1:8"),
      "{}",
      e.message
    );
    let e = refused(&opts(c::BASE_URL_CN, Some("https://evil.example:444/")), &[]).unwrap();
    assert!(e.message.contains("https://evil.example:444") && e.message.contains("oauthHost"));
    // Named by the environment: the opt-in list, or the variables that set the hosts.
    let local = opts("http://127.0.0.1:8/coding/v1", Some("http://127.0.0.1:8"));
    assert!(refused(
      &local,
      &[("KIMI_NATIVE_TRUSTED_ORIGINS", "https://x.example, http://127.0.0.1:8/")]
    )
    .is_none());
    assert!(refused(&local, &[("KIMI_CODE_BASE_URL", "http://127.0.0.1:8/other")]).is_none());
    assert!(refused(&local, &[("KIMI_NATIVE_TRUSTED_ORIGINS", "http://127.0.0.1:9")]).is_some());
    let bad = Settings::resolve_with(
      &local,
      &env_of(&[
        ("KIMI_NATIVE_HOME", "/x"),
        ("KIMI_NATIVE_TRUSTED_ORIGINS", "127.0.0.1:8"),
      ]),
    );
    assert_eq!(bad.unwrap_err().code, crate::error::Code::BadInput);
  }

  #[test]
  fn kimi_cli_pair_and_the_login_notice_follow_the_environment() {
    let env = env_of(&[("KIMI_NATIVE_HOME", "/x")]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert!(s.is_kimi_cli_pair());
    assert!(s.foreign_login_notice().is_none());
    let global = Options {
      region: Some("global".into()),
      ..Default::default()
    };
    assert!(
      !Settings::resolve_with(&global, &env).unwrap().is_kimi_cli_pair(),
      "kimi-cli has no region"
    );
    let env = env_of(&[
      ("KIMI_NATIVE_HOME", "/x"),
      ("KIMI_OAUTH_HOST", "http://127.0.0.1:8/"),
      ("KIMI_CODE_BASE_URL", "http://127.0.0.1:8/coding/v1"),
    ]);
    let s = Settings::resolve_with(&Options::default(), &env).unwrap();
    assert!(s.is_kimi_cli_pair());
    let notice = s.foreign_login_notice().unwrap();
    assert!(
      notice.contains("http://127.0.0.1:8, which is NOT a Kimi server") && notice.contains("env:KIMI_OAUTH_HOST")
    );
  }
}
