//! QR images of ticket codes: SVG for screens and print, PNG for e-mail clients that will not
//! show SVG. Codes are upper-case base32, so the QR uses its dense alphanumeric mode.

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

use crate::{AppError, Result};

/// Modules of white border the QR specification asks for around the symbol.
const QUIET_ZONE: usize = 4;

fn symbol(code: &str) -> Result<QrCode> {
    // Level M: survives ~15 % damage (a scuffed print-out, a cracked phone screen).
    QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .map_err(|e| AppError::internal(format!("QR encoding: {e}")))
}

/// An SVG of the code's QR symbol.
pub fn svg(code: &str) -> Result<String> {
    Ok(symbol(code)?
        .render()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The symbol as greyscale pixels (0 dark, 255 light), `scale` pixels per module, with its quiet
/// zone: (side, pixels).
pub fn pixels(code: &str, scale: usize) -> Result<(usize, Vec<u8>)> {
    let q = symbol(code)?;
    let n = q.width();
    let colors = q.to_colors();
    let scale = scale.clamp(1, 32);
    let side = (n + 2 * QUIET_ZONE) * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (mx, my) = (i % n + QUIET_ZONE, i / n + QUIET_ZONE);
            for y in my * scale..(my + 1) * scale {
                let row = y * side;
                pixels[row + mx * scale..row + (mx + 1) * scale].fill(0);
            }
        }
    }
    Ok((side, pixels))
}

/// A greyscale PNG of the code's QR symbol, `scale` pixels per module.
pub fn png(code: &str, scale: usize) -> Result<Vec<u8>> {
    let (side, pixels) = pixels(code, scale)?;
    let side32 = u32::try_from(side).map_err(|_| AppError::internal("QR image too large"))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side32, side32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| AppError::internal(format!("PNG: {e}")))?;
        w.write_image_data(&pixels).map_err(|e| AppError::internal(format!("PNG: {e}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG made by [`png`] with an independent QR reader.
    fn read(png_bytes: &[u8]) -> String {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn png_decodes_to_the_code() {
        let code = "A".repeat(80) + &"Z7".repeat(58);
        assert_eq!(read(&png(&code, 4).unwrap()), code);
    }

    #[test]
    fn a_ticket_code_fits_a_low_qr_version() {
        // 196 base32 characters: alphanumeric mode.
        let code = "A".repeat(196);
        let v = symbol(&code).unwrap().version();
        assert!(matches!(v, qrcode::Version::Normal(n) if n <= 8), "{v:?}");
    }

    #[test]
    fn svg_is_an_svg() {
        let s = svg("HELLO").unwrap();
        assert!(s.contains("<svg") && s.contains("</svg>"));
    }
}
