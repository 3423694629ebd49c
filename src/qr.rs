//! Terminal QR code for the verification URL, drawn by `qrcode`'s own half-block renderer.

use qrcode::render::unicode::Dense1x2;

pub fn render(text: &str) -> Option<String> {
  let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
  // Light-on-dark terminals: swap the colours so the code's dark modules stay unprinted.
  let mut out = code
    .render::<Dense1x2>()
    .dark_color(Dense1x2::Light)
    .light_color(Dense1x2::Dark)
    .quiet_zone(true)
    .build();
  out.push('\n');
  Some(out)
}

#[cfg(test)]
mod tests {
  #[test]
  fn renders_a_square_code_with_a_quiet_zone() {
    let url = "https://www.kimi.com/code/authorize_device?user_code=ABCD-EFGH";
    let s = super::render(url).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    let width = lines[0].chars().count();
    assert!(lines.len() > 10);
    assert!(lines.iter().all(|l| l.chars().count() == width));
    // Two modules per character row: as many rows as half the width, rounded up.
    assert_eq!(lines.len(), width.div_ceil(2));
    // The quiet zone is light, i.e. printed as full blocks on a dark terminal.
    assert!(lines[0].chars().all(|c| c == '█'), "{}", lines[0]);
    let code = qrcode::QrCode::new(url.as_bytes()).unwrap();
    assert_eq!(width, code.width() + 8, "4 modules of quiet zone on each side");
  }
}
