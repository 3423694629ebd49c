//! The Files API: `POST {base}/files`, multipart with `purpose` first and then `file` named
//! `upload.<ext>` with its real mime type (golden py-chat, docs/kimi-wire.md §6.7). The answer's `id`
//! is referenced as `ms://<id>`.
//!
//! Uploads are cached by content hash per account, so the same bytes go up once: a small JSON
//! file per account under `<home>/uploads/`, named by a digest of the account (never a token),
//! holding hashes and file ids only, bounded to the newest entries.

use super::{endpoint, json_of, send, Call};
use crate::config::Settings;
use crate::constants as c;
use crate::error::{Code, KimiError, Result};
use crate::task::blocking;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

const WHAT: &str = "Uploading to Kimi's Files API";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
  pub id: String,
  pub url: String,
  /// True when the id came from the cache and nothing was sent.
  pub cached: bool,
}

fn hex(bytes: &[u8]) -> String {
  bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
  hex(&Sha256::digest(data))
}

/// `purpose` the way the official clients choose it: `image` / `video` by mime type.
pub fn purpose_for(mime: &str, purpose: Option<&str>) -> Result<String> {
  if let Some(p) = purpose.map(str::trim).filter(|p| !p.is_empty()) {
    return Ok(p.to_string());
  }
  match mime.split('/').next() {
    Some("image") => Ok("image".into()),
    Some("video") => Ok("video".into()),
    _ => Err(KimiError::bad_input(format!(
      "uploadFile: pass a purpose for {mime:?} (images and videos get \"image\" / \"video\" by default)."
    ))),
  }
}

fn valid_mime(mime: &str) -> bool {
  let mut parts = mime.splitn(2, '/');
  let ok = |s: Option<&str>| {
    s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
  };
  ok(parts.next()) && ok(parts.next())
}

/// `upload.<ext>` from the mime subtype (`image/svg+xml` → `upload.svg`).
fn filename(mime: &str) -> String {
  let sub = mime.split('/').nth(1).unwrap_or("bin");
  let ext = sub.split('+').next().unwrap_or("bin");
  format!("upload.{ext}")
}

/// The multipart body and its content type, in the golden order: `purpose`, then `file`.
pub fn multipart(data: &[u8], mime: &str, purpose: &str, boundary: &str) -> (Vec<u8>, String) {
  let mut out = Vec::with_capacity(data.len() + 512);
  out.extend_from_slice(
    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n").as_bytes(),
  );
  out.extend_from_slice(
    format!(
      "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
      filename(mime)
    )
    .as_bytes(),
  );
  out.extend_from_slice(data);
  out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
  (out, format!("multipart/form-data; boundary={boundary}"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
  sha256: String,
  mime: String,
  purpose: String,
  id: String,
  bytes: u64,
  at: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
  version: u32,
  entries: Vec<Entry>,
}

fn cache_path(settings: &Settings, account: &str) -> PathBuf {
  settings.home.join(c::UPLOAD_CACHE_DIR).join(format!("{account}.json"))
}

/// A corrupt or unreadable cache is an empty one: it only saves uploads.
fn load(path: &PathBuf) -> CacheFile {
  std::fs::read(path)
    .ok()
    .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
    .unwrap_or_default()
}

fn store(path: &std::path::Path, mut file: CacheFile, entry: Entry) {
  file.version = 1;
  file
    .entries
    .retain(|e| !(e.sha256 == entry.sha256 && e.mime == entry.mime && e.purpose == entry.purpose));
  file.entries.push(entry);
  file.entries.sort_by(|a, b| b.at.total_cmp(&a.at));
  file.entries.truncate(c::UPLOAD_CACHE_MAX_ENTRIES);
  if let Ok(text) = serde_json::to_vec_pretty(&file) {
    // Atomic, so a concurrent reader never sees half a file.
    let _ = crate::store::file::write_atomic(path, &text);
  }
}

/// A digest naming this account: the login's server slot and the account's user id from
/// `/me` (remembered for the process). Without `/me` the slot alone names it.
async fn account_key(settings: &Settings) -> String {
  static MEMO: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
  let memo = MEMO.get_or_init(Default::default);
  let login = settings.login_key();
  if let Some(k) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&login) {
    return k.clone();
  }
  let user = super::me::raw(settings)
    .await
    .ok()
    .and_then(|v| v.get("user_id").and_then(|u| u.as_str()).map(String::from));
  let digest = sha256_hex(
    format!(
      "kimi-native-uploads|{}|{}",
      settings.slot(),
      user.as_deref().unwrap_or("")
    )
    .as_bytes(),
  );
  let key = digest[..16].to_string();
  if user.is_some() {
    memo
      .lock()
      .unwrap_or_else(|e| e.into_inner())
      .insert(login, key.clone());
  }
  key
}

/// Uploads `data` (or finds it in the cache) and returns its `ms://` reference.
pub async fn upload(
  settings: &Settings,
  data: bytes::Bytes,
  mime: &str,
  purpose: Option<&str>,
  call: &Call,
) -> Result<Uploaded> {
  let mime = mime.trim().to_ascii_lowercase();
  if !valid_mime(&mime) {
    return Err(KimiError::bad_input(format!(
      "uploadFile needs a mimeType such as \"image/png\", got {mime:?}."
    )));
  }
  if data.is_empty() {
    return Err(KimiError::bad_input("uploadFile got no bytes to upload."));
  }
  let purpose = purpose_for(&mime, purpose)?;
  let sha = sha256_hex(&data);
  call
    .run(WHAT, async {
      let path = cache_path(settings, &account_key(settings).await);
      let (p, s, m, pu) = (path.clone(), sha.clone(), mime.clone(), purpose.clone());
      let (file, hit) = blocking(move || {
        let file = load(&p);
        let hit = file
          .entries
          .iter()
          .find(|e| e.sha256 == s && e.mime == m && e.purpose == pu)
          .map(|e| e.id.clone());
        Ok((file, hit))
      })
      .await?;
      if let Some(id) = hit {
        return Ok(Uploaded {
          url: format!("{}{id}", c::FILE_REF_SCHEME),
          id,
          cached: true,
        });
      }
      let boundary = uuid::Uuid::new_v4().simple().to_string();
      let (body, content_type) = multipart(&data, &mime, &purpose, &boundary);
      let body = bytes::Bytes::from(body);
      let url = endpoint(settings, c::FILES_PATH);
      let reply = send(settings, WHAT, |http| {
        http
          .post(&url)
          .header("Accept", "application/json")
          .header("Content-Type", &content_type)
          .body(body.clone())
      })
      .await?;
      let id = json_of(WHAT, &reply)?
        .get("id")
        .and_then(|i| i.as_str())
        .filter(|i| !i.is_empty())
        .map(String::from)
        .ok_or_else(|| {
          KimiError::new(
            Code::Server,
            format!("{WHAT}: the answer had no file id. Retry shortly."),
          )
        })?;
      let entry = Entry {
        sha256: sha,
        mime,
        purpose,
        id: id.clone(),
        bytes: data.len() as u64,
        at: crate::token::now_secs(),
      };
      let _ = blocking(move || {
        store(&path, file, entry);
        Ok(())
      })
      .await;
      Ok(Uploaded {
        url: format!("{}{id}", c::FILE_REF_SCHEME),
        id,
        cached: false,
      })
    })
    .await
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn multipart_matches_the_golden_shape() {
    let (body, ct) = multipart(
      b"\0\0\0\x18ftypmp42",
      "video/mp4",
      "video",
      "98724d5347ff7ed7c9e508dd036ed1cd",
    );
    // Byte for byte the body of the files request in golden/py-chat.jsonl.
    let golden = "--98724d5347ff7ed7c9e508dd036ed1cd\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nvideo\r\n--98724d5347ff7ed7c9e508dd036ed1cd\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.mp4\"\r\nContent-Type: video/mp4\r\n\r\n\0\0\0\x18ftypmp42\r\n--98724d5347ff7ed7c9e508dd036ed1cd--\r\n";
    assert_eq!(body, golden.as_bytes());
    assert_eq!(ct, "multipart/form-data; boundary=98724d5347ff7ed7c9e508dd036ed1cd");
    assert_eq!(filename("image/svg+xml"), "upload.svg");
  }

  #[test]
  fn purpose_and_mime_checks() {
    assert_eq!(purpose_for("image/png", None).unwrap(), "image");
    assert_eq!(purpose_for("video/mp4", None).unwrap(), "video");
    assert_eq!(
      purpose_for("application/pdf", Some("file-extract")).unwrap(),
      "file-extract"
    );
    assert_eq!(purpose_for("application/pdf", None).unwrap_err().code, Code::BadInput);
    assert!(valid_mime("image/png") && !valid_mime("png") && !valid_mime("image/\r\nX: y"));
  }

  #[test]
  fn cache_is_bounded_newest_first_and_tolerates_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uploads").join("acct.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{ truncated").unwrap();
    assert!(load(&path).entries.is_empty());
    for i in 0..(c::UPLOAD_CACHE_MAX_ENTRIES + 5) {
      let e = Entry {
        sha256: format!("h{i}"),
        mime: "image/png".into(),
        purpose: "image".into(),
        id: format!("file-{i}"),
        bytes: 1,
        at: i as f64,
      };
      store(&path, load(&path), e);
    }
    let f = load(&path);
    assert_eq!(f.entries.len(), c::UPLOAD_CACHE_MAX_ENTRIES);
    assert_eq!(f.entries[0].id, format!("file-{}", c::UPLOAD_CACHE_MAX_ENTRIES + 4));
    assert!(!f.entries.iter().any(|e| e.id == "file-0"));
  }
}
