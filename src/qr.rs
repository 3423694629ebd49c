//! Terminal QR code for the verification URL (two rows per character with half blocks).

pub fn render(text: &str) -> Option<String> {
  let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
  let width = code.width();
  let colors = code.to_colors();
  let dark = |x: isize, y: isize| -> bool {
    x >= 0
      && y >= 0
      && (x as usize) < width
      && (y as usize) < width
      && colors[y as usize * width + x as usize] == qrcode::Color::Dark
  };
  let quiet = 2isize;
  let mut out = String::new();
  let mut y = -quiet;
  while y < width as isize + quiet {
    for x in -quiet..width as isize + quiet {
      // Light-on-dark terminals: print the light modules, leave the dark ones blank.
      out.push(match (dark(x, y), dark(x, y + 1)) {
        (false, false) => '█',
        (false, true) => '▀',
        (true, false) => '▄',
        (true, true) => ' ',
      });
    }
    out.push('\n');
    y += 2;
  }
  Some(out)
}

#[cfg(test)]
mod tests {
  #[test]
  fn renders_square() {
    let s = super::render("https://www.kimi.com/code/authorize_device?user_code=ABCD-EFGH").unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines.len() > 10);
    assert!(lines.iter().all(|l| l.chars().count() == lines[0].chars().count()));
  }
}
