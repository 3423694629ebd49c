//! One pass over a JSON body that is already in the exact form serde_json writes (what
//! `JSON.stringify` gives for a chat body): it checks the grammar, UTF-8, that form, and that no
//! object repeats a key, and records where the top-level entries and the `messages` turns are.
//! Anything it is unsure of is declined (`None`); the caller then parses the whole tree, so a
//! decline costs speed, never correctness.

use std::ops::Range;

/// serde_json stops at 128 levels; deeper bodies are left to it to refuse.
const MAX_DEPTH: usize = 100;

/// Objects with more keys than this are declined rather than checked for repeats pairwise.
const MAX_KEYS_CHECKED: usize = 256;

/// One `"key":value` of an object: spans of the quoted key and of the value text.
#[derive(Debug, Clone)]
pub(super) struct Entry {
  pub key: Range<usize>,
  pub value: Range<usize>,
}

impl Entry {
  /// The whole `"key":value` text.
  pub fn span(&self) -> Range<usize> {
    self.key.start..self.value.end
  }
}

/// A turn of `messages`: its span and its entries.
#[derive(Debug)]
pub(super) struct Turn {
  pub span: Range<usize>,
  pub entries: Vec<Entry>,
}

/// What [`scan`] found in a top-level object.
#[derive(Debug)]
pub(super) struct Layout {
  pub top: Vec<Entry>,
  /// The turns of a top-level `messages` array of objects.
  pub turns: Vec<Turn>,
}

/// Scans `b`; `None` unless it is one canonical JSON object whose `messages`, if present, is an
/// array of objects.
pub(super) fn scan(b: &[u8]) -> Option<Layout> {
  let mut s = Scanner {
    b,
    i: 0,
    keys: Vec::new(),
  };
  if b.first() != Some(&b'{') || simdutf8::basic::from_utf8(b).is_err() {
    return None;
  }
  let mut top = Vec::new();
  let mut turns = Vec::new();
  s.object(1, Some(&mut top), Some(&mut turns))?;
  (s.i == b.len()).then_some(Layout { top, turns })
}

struct Scanner<'a> {
  b: &'a [u8],
  i: usize,
  /// Key spans of the objects being scanned, one list per depth, reused across objects.
  keys: Vec<Vec<Range<usize>>>,
}

impl Scanner<'_> {
  fn peek(&self) -> Option<u8> {
    self.b.get(self.i).copied()
  }

  fn eat(&mut self, c: u8) -> Option<()> {
    (self.peek()? == c).then(|| self.i += 1)
  }

  fn value(&mut self, depth: usize) -> Option<()> {
    match self.peek()? {
      b'"' => self.string(),
      b'{' => self.object(depth + 1, None, None),
      b'[' => self.array(depth + 1),
      b't' => self.literal(b"true"),
      b'f' => self.literal(b"false"),
      b'n' => self.literal(b"null"),
      b'-' | b'0'..=b'9' => self.number(),
      _ => None,
    }
  }

  fn literal(&mut self, word: &[u8]) -> Option<()> {
    self.b.get(self.i..self.i + word.len()).filter(|w| *w == word)?;
    self.i += word.len();
    Some(())
  }

  /// At `{`. Entries go to `out` when given (the top level and turns); repeats are found with
  /// the per-depth key lists. `turns`: where a `messages` array of this object is recorded.
  fn object(
    &mut self,
    depth: usize,
    mut out: Option<&mut Vec<Entry>>,
    mut turns: Option<&mut Vec<Turn>>,
  ) -> Option<()> {
    if depth > MAX_DEPTH {
      return None;
    }
    self.i += 1;
    if self.eat(b'}').is_some() {
      return Some(());
    }
    if self.keys.len() < depth {
      self.keys.resize_with(depth, Vec::new);
    }
    let mut keys = std::mem::take(&mut self.keys[depth - 1]);
    keys.clear();
    let result = (|| loop {
      let k0 = self.i;
      if self.peek()? != b'"' {
        return None;
      }
      self.string()?;
      let key = k0..self.i;
      let name = &self.b[key.clone()];
      if keys.len() >= MAX_KEYS_CHECKED || keys.iter().any(|k| &self.b[k.clone()] == name) {
        return None;
      }
      keys.push(key.clone());
      self.eat(b':')?;
      let v0 = self.i;
      match turns.as_deref_mut() {
        // Not an array of objects: declined, the whole-tree path shapes such bodies.
        Some(list) if name == b"\"messages\"" => {
          (self.peek()? == b'[').then_some(())?;
          self.turns(depth + 1, list)?
        }
        _ => self.value(depth)?,
      }
      if let Some(out) = out.as_deref_mut() {
        out.push(Entry { key, value: v0..self.i });
      }
      if !self.another(b'}')? {
        return Some(());
      }
    })();
    self.keys[depth - 1] = keys;
    result
  }

  fn array(&mut self, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
      return None;
    }
    self.items(|s| s.value(depth))
  }

  /// At the `[` of `messages`: each turn must be an object; its entries are recorded.
  fn turns(&mut self, depth: usize, list: &mut Vec<Turn>) -> Option<()> {
    self.items(|s| {
      let start = s.i;
      if s.peek()? != b'{' {
        return None;
      }
      let mut entries = Vec::new();
      s.object(depth + 1, Some(&mut entries), None)?;
      list.push(Turn {
        span: start..s.i,
        entries,
      });
      Some(())
    })
  }

  /// At `[`: the items, each read by `item`, up to the closing `]`.
  fn items(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
    self.i += 1;
    if self.eat(b']').is_some() {
      return Some(());
    }
    loop {
      item(self)?;
      if !self.another(b']')? {
        return Some(());
      }
    }
  }

  /// After an item: `true` past a `,`, `false` past the closing `close`.
  fn another(&mut self, close: u8) -> Option<bool> {
    let c = self.peek()?;
    self.i += 1;
    match c {
      b',' => Some(true),
      c if c == close => Some(false),
      _ => None,
    }
  }

  /// At `"`. Works 64 bytes at a time on bit masks of quotes, backslashes and control bytes,
  /// finding which characters are escaped with carries instead of a branch per backslash
  /// (simdjson's method). UTF-8 was checked for the whole body before.
  fn string(&mut self) -> Option<()> {
    let b = self.b;
    let mut i = self.i + 1;
    // The first byte of the next block is escaped by a backslash run ending this one.
    let mut carry = 0u64;
    loop {
      let m = Masks::of(b, i);
      let escaped = escaped_bits(m.slash, &mut carry);
      let quotes = m.quote & !escaped;
      let end = quotes.trailing_zeros();
      let within = if end == 64 { u64::MAX } else { (1u64 << end) - 1 };
      // A raw control byte inside the string: not JSON.
      if m.control & within != 0 {
        return None;
      }
      // What each escape stands for: the two-character ones are checked for the whole block at
      // once; `\u` (rare) needs a look at its digits, anything else is refused there.
      let esc = escaped & within;
      if esc != 0 {
        let mut other = esc & !Masks::short_escapes(b, i);
        while other != 0 {
          escape(b.get(i + other.trailing_zeros() as usize..)?)?;
          other &= other - 1;
        }
      }
      if end < 64 {
        self.i = i + end as usize + 1;
        return (self.i <= b.len()).then_some(());
      }
      i += 64;
      if i >= b.len() {
        return None;
      }
    }
  }

  fn number(&mut self) -> Option<()> {
    let start = self.i;
    let len = self.b[start..]
      .iter()
      .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
      .unwrap_or(self.b.len() - start);
    self.i += len;
    canonical_number(&self.b[start..self.i]).then_some(())
  }
}

/// Which of 64 bytes are `"`, `\\`, or below 0x20 (bit k = byte k). Past the end of the body
/// counts as plain text.
struct Masks {
  quote: u64,
  slash: u64,
  control: u64,
}

impl Masks {
  #[inline]
  fn of(b: &[u8], i: usize) -> Masks {
    with_block(b, i, Masks::block)
  }

  /// Bytes of the block that are a two-character escape's letter ([`SHORT_ESCAPES`]).
  fn short_escapes(b: &[u8], i: usize) -> u64 {
    with_block(b, i, short_escape_bits)
  }

  #[cfg(target_arch = "x86_64")]
  #[inline]
  fn block(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::*;
    let (mut quote, mut slash, mut control) = (0u64, 0u64, 0u64);
    // SAFETY: SSE2 is part of the x86_64 baseline; the loads read 4 × 16 bytes of `block`.
    unsafe {
      let q = _mm_set1_epi8(b'"' as i8);
      let s = _mm_set1_epi8(b'\\' as i8);
      let c = _mm_set1_epi8(0x1f);
      for k in 0..4 {
        let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
        let bits = |x: __m128i| (_mm_movemask_epi8(x) as u16 as u64) << (16 * k);
        quote |= bits(_mm_cmpeq_epi8(v, q));
        slash |= bits(_mm_cmpeq_epi8(v, s));
        control |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, c), c));
      }
    }
    Masks { quote, slash, control }
  }

  #[cfg(not(target_arch = "x86_64"))]
  fn block(block: &[u8; 64]) -> Masks {
    let (mut quote, mut slash, mut control) = (0u64, 0u64, 0u64);
    for (k, &x) in block.iter().enumerate() {
      quote |= ((x == b'"') as u64) << k;
      slash |= ((x == b'\\') as u64) << k;
      control |= ((x < 0x20) as u64) << k;
    }
    Masks { quote, slash, control }
  }
}

/// Runs `f` on the 64 bytes at `i`, padded with spaces past the end of `b`.
#[inline]
fn with_block<T>(b: &[u8], i: usize, f: impl Fn(&[u8; 64]) -> T) -> T {
  if let Some(block) = b.get(i..i + 64).and_then(|x| <&[u8; 64]>::try_from(x).ok()) {
    return f(block);
  }
  let mut pad = [b' '; 64];
  let rest = b.get(i..).unwrap_or_default();
  pad[..rest.len()].copy_from_slice(rest);
  f(&pad)
}

#[cfg(target_arch = "x86_64")]
fn short_escape_bits(block: &[u8; 64]) -> u64 {
  use std::arch::x86_64::*;
  let mut bits = 0u64;
  // SAFETY: SSE2 is part of the x86_64 baseline; the loads read 4 × 16 bytes of `block`.
  unsafe {
    let letters = SHORT_ESCAPES.map(|c| _mm_set1_epi8(c as i8));
    for k in 0..4 {
      let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
      let mut hit = _mm_setzero_si128();
      for l in letters {
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, l));
      }
      bits |= (_mm_movemask_epi8(hit) as u16 as u64) << (16 * k);
    }
  }
  bits
}

#[cfg(not(target_arch = "x86_64"))]
fn short_escape_bits(block: &[u8; 64]) -> u64 {
  block
    .iter()
    .enumerate()
    .fold(0, |bits, (k, x)| bits | (SHORT_ESCAPES.contains(x) as u64) << k)
}

/// Characters escaped by a backslash, given the backslashes of a block: the one after an odd
/// run of backslashes, and every second one within a run. `carry` says whether the previous
/// block ended in an odd run, and is set for the next. simdjson's `find_escaped_branchless`.
fn escaped_bits(slash: u64, carry: &mut u64) -> u64 {
  const EVEN: u64 = 0x5555_5555_5555_5555;
  let slash = slash & !*carry;
  let follows = slash << 1 | *carry;
  let odd_starts = slash & !EVEN & !follows;
  let (even_started, overflow) = odd_starts.overflowing_add(slash);
  *carry = overflow as u64;
  (EVEN ^ (even_started << 1)) & follows
}

/// Escape letters serde_json writes as two characters; `u` is checked by [`escape`].
const SHORT_ESCAPES: [u8; 7] = *b"\"\\nrtbf";

/// Length of the escape `e` follows a `\` with, counting the `\`; `None` for escapes serde_json
/// does not write (`\/`, `\u` for anything but a control character without a short form).
fn escape(e: &[u8]) -> Option<usize> {
  match *e.first()? {
    c if SHORT_ESCAPES.contains(&c) => Some(2),
    b'u' => {
      let h = e.get(1..5)?;
      let lower_hex = |c: u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
      let ok = h[0] == b'0' && h[1] == b'0' && matches!(h[2], b'0' | b'1') && lower_hex(h[3]);
      let code = ok.then(|| (h[2] - b'0') * 16 + if h[3] <= b'9' { h[3] - b'0' } else { h[3] - b'a' + 10 })?;
      (!matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)).then_some(6)
    }
    _ => None,
  }
}

/// Whether `t` is a number exactly as serde_json writes the value it parses to.
fn canonical_number(t: &[u8]) -> bool {
  let digits = t.strip_prefix(b"-").unwrap_or(t);
  let Ok(s) = std::str::from_utf8(t) else { return false };
  if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
    // Integers: no leading zero, no `-0`, and in i64/u64 range (else serde_json makes a float).
    if digits.len() > 1 && digits[0] == b'0' || s == "-0" {
      return false;
    }
    return if t[0] == b'-' {
      s.parse::<i64>().is_ok()
    } else {
      s.parse::<u64>().is_ok()
    };
  }
  // Floats are rare in a chat body: ask serde_json itself.
  serde_json::from_str::<serde_json::Value>(s)
    .ok()
    .and_then(|v| serde_json::to_string(&v).ok())
    .is_some_and(|o| o == s)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn masks_agree_with_the_bytes() {
    let text: Vec<u8> = (0..200u32)
      .map(|k| [b'a', b'"', b'\\', 0x01, 0x1f, 0x20, 0xe6, b'x'][(k * 7 % 8) as usize])
      .collect();
    for i in [0, 1, 63, 64, 100, 150, 199] {
      let m = Masks::of(&text, i);
      for k in 0..64 {
        let x = text.get(i + k).copied().unwrap_or(b' ');
        assert_eq!(m.quote >> k & 1 == 1, x == b'"');
        assert_eq!(m.slash >> k & 1 == 1, x == b'\\');
        assert_eq!(m.control >> k & 1 == 1, x < 0x20);
      }
    }
  }

  /// Where a string starting at `b[0] == '"'` ends, one character at a time; `None` when it
  /// does not end or holds what the scan must refuse.
  fn reference_end(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
      match *b.get(i)? {
        b'"' => return Some(i + 1),
        b'\\' => i += escape(b.get(i + 1..)?)?,
        c if c < 0x20 => return None,
        _ => i += 1,
      }
    }
  }

  #[test]
  fn string_scan_agrees_with_a_character_by_character_reading() {
    let alphabet: &[&[u8]] = &[
      b"a",
      b"\\",
      b"\"",
      b"n",
      b"u",
      b"0",
      b"1",
      b"f",
      b"/",
      b"\x01",
      "é".as_bytes(),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut compared = 0;
    for round in 0..20_000 {
      let mut text = b"\"".to_vec();
      let len = (round % 150) + 1;
      while text.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Dense runs of backslashes in half the rounds, mostly plain text in the other half.
        let pick = (seed % if round % 2 == 0 { 12 } else { 40 }) as usize;
        text.extend_from_slice(alphabet.get(pick).unwrap_or(&&b"x"[..]));
      }
      let mut s = Scanner {
        b: &text,
        i: 0,
        keys: Vec::new(),
      };
      let got = s.string().map(|_| s.i);
      assert_eq!(got, reference_end(&text), "{:?}", String::from_utf8_lossy(&text));
      compared += got.is_some() as usize;
    }
    assert!(compared > 2_000, "only {compared} strings ended");
  }

  #[test]
  fn strings_end_at_the_first_unescaped_quote_across_blocks() {
    for len in [0, 1, 62, 63, 64, 65, 127, 128, 200] {
      for tail in ["\\\\", "\\\"", "\\n", "\\u001f"] {
        let s = format!("{}{}", "x".repeat(len), tail);
        let body = format!(r#"{{"a":"{s}","b":"\\"}}"#);
        let l = scan(body.as_bytes()).unwrap_or_else(|| panic!("{body}"));
        assert_eq!(&body.as_bytes()[l.top[0].value.clone()], format!("\"{s}\"").as_bytes());
      }
    }
  }

  #[test]
  fn records_top_entries_and_turns() {
    let b = br#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool"}],"n":[1,{"a":true}]}"#;
    let l = scan(b).expect("canonical");
    let keys: Vec<&[u8]> = l.top.iter().map(|e| &b[e.key.clone()]).collect();
    assert_eq!(keys, [&b"\"model\""[..], b"\"messages\"", b"\"n\""]);
    assert_eq!(&b[l.top[2].value.clone()], br#"[1,{"a":true}]"#);
    assert_eq!(l.turns.len(), 2);
    assert_eq!(&b[l.turns[1].span.clone()], br#"{"role":"tool"}"#);
    assert_eq!(&b[l.turns[0].entries[1].value.clone()], br#""hi""#);
  }

  #[test]
  fn declines_what_is_not_canonical_or_not_json() {
    for bad in [
      &br#"{"a":1,"a":2}"#[..],
      br#"{"m":{"x":{"a":1,"a":2}}}"#,
      br#"{"a":[1,2,]}"#,
      br#"{"a":1}x"#,
      br#"{"a" :1}"#,
      br#"{"a":"\/"}"#,
      br#"{"a":"\u00e9"}"#,
      br#"{"a":"\u000a"}"#,
      br#"{"a":01}"#,
      br#"{"a":tru}"#,
      br#"{"a":"unterminated}"#,
      b"{\"a\":\"\xff\"}",
      b"{\"a\":\"\xe6\x97\"}",
      b"{\"a\":\"\x01\"}",
      br#"{"messages":[1]}"#,
      br#"[1]"#,
    ] {
      assert!(scan(bad).is_none(), "{}", String::from_utf8_lossy(bad));
    }
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(scan(deep.as_bytes()).is_none());
    assert!(scan(r#"{"a":"日本語 🦀 \u001f\n","b":[-1,0.5,null,false],"messages":[]}"#.as_bytes()).is_some());
  }
}
