//! The macOS product version ("15.1.1"), read from SystemVersion.plist with the `plist` crate
//! (which reads both the XML and the binary format).

#[cfg(target_os = "macos")]
const SYSTEM_VERSION_PLIST: &str = "/System/Library/CoreServices/SystemVersion.plist";

#[cfg(target_os = "macos")]
pub fn macos_product_version() -> Option<String> {
  product_version(std::path::Path::new(SYSTEM_VERSION_PLIST))
}

#[cfg(not(target_os = "macos"))]
pub fn macos_product_version() -> Option<String> {
  None
}

#[cfg(target_os = "macos")]
fn product_version(path: &std::path::Path) -> Option<String> {
  let value = plist::Value::from_file(path).ok()?;
  let version = value.as_dictionary()?.get("ProductVersion")?.as_string()?.trim();
  (!version.is_empty()).then(|| version.to_string())
}

#[cfg(all(test, target_os = "macos"))]
mod tests {
  use super::*;

  #[test]
  fn reads_xml_and_binary_plists() {
    let dir = tempfile::tempdir().unwrap();
    let mut dict = plist::Dictionary::new();
    dict.insert("ProductName".into(), plist::Value::String("macOS".into()));
    dict.insert("ProductVersion".into(), plist::Value::String("15.1.1".into()));
    let value = plist::Value::Dictionary(dict);
    let xml = dir.path().join("xml.plist");
    value.to_file_xml(&xml).unwrap();
    assert_eq!(product_version(&xml).as_deref(), Some("15.1.1"));
    let bin = dir.path().join("bin.plist");
    value.to_file_binary(&bin).unwrap();
    assert_eq!(product_version(&bin).as_deref(), Some("15.1.1"));
    assert_eq!(product_version(&dir.path().join("missing.plist")), None);
  }

  #[test]
  fn matches_sw_vers_on_this_mac() {
    let out = std::process::Command::new("sw_vers")
      .arg("-productVersion")
      .output()
      .unwrap();
    let want = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(macos_product_version(), Some(want));
  }
}
