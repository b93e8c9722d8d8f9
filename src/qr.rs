//! QR rendering: PNG data URLs for the API and the sandbox page, unicode for the terminal.

use base64::Engine as _;
use image::{ImageEncoder, Luma};
use qrcode::QrCode;

/// The QR as PNG bytes; 8 px per module with the standard quiet zone, large
/// enough for a phone camera (and for the tests' decoder) to read from a screen.
pub fn png(data: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::new(data.as_bytes())?;
    let img = code.render::<Luma<u8>>().module_dimensions(8, 8).build();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::L8,
    )?;
    Ok(out)
}

pub fn png_data_url(data: &str) -> anyhow::Result<String> {
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(data)?)
    ))
}

/// Two rows of modules per text line, like open-wa's terminal QR.
pub fn terminal(data: &str) -> anyhow::Result<String> {
    let code = QrCode::new(data.as_bytes())?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_decodes_back_to_the_string() {
        let s = "2@abc,def=,ghi=,jkl=";
        let bytes = png(s).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        let mut prep = rqrr::PreparedImage::prepare(img);
        let grids = prep.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, s);
    }

    #[test]
    fn data_url_and_terminal() {
        assert!(
            png_data_url("x")
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(terminal("x").unwrap().lines().count() > 5);
    }
}
