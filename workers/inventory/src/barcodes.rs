//! Reading barcodes and QR codes from a photo, in the worker: the photo (PNG or JPEG,
//! judged from its bytes) is decoded to grey levels and searched by `rxing` (a Rust port
//! of ZXing) for every 1D code (EAN-13, UPC, Code 128, Code 39 …) and QR code in it. Pure:
//! no `worker`, no kit.

use image::GenericImageView;

/// At most this many pixels are decoded (a 16 MP phone photo); the header is read first.
pub const MAX_PIXELS: u64 = 16_000_000;
/// Photos are searched at up to this many pixels on their long side.
const SEARCH_SIDE: u32 = 2000;

/// A code read, with its symbology.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Code {
    pub format: String,
    pub text: String,
}

/// Why a photo could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Not a PNG or JPEG.
    NotAnImage,
    /// Over [`MAX_PIXELS`], or broken.
    Photo(String),
    /// A photo, but no code could be read in it.
    NoCode,
}

/// Every code in the photo, or why there is none.
pub fn read(bytes: &[u8]) -> Result<Vec<Code>, Unreadable> {
    let format = match noizylab_core::tickets::sniff_content_type(bytes) {
        Some("image/png") => image::ImageFormat::Png,
        Some("image/jpeg") => image::ImageFormat::Jpeg,
        _ => return Err(Unreadable::NotAnImage),
    };
    let declared = if format == image::ImageFormat::Png { "png" } else { "jpeg" };
    if let Some((w, h)) = noizylab_core::vision::declared_size(bytes, declared) {
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(Unreadable::Photo(format!("the photo is {w} × {h}: at most 16 megapixels")));
        }
    }
    let img = image::load_from_memory_with_format(bytes, format)
        .map_err(|e| Unreadable::Photo(format!("the photo could not be decoded ({e})")))?;
    let (w, h) = img.dimensions();
    let img = if w.max(h) > SEARCH_SIDE { img.thumbnail(SEARCH_SIDE, SEARCH_SIDE) } else { img };
    let luma = img.to_luma8();
    let (w, h) = luma.dimensions();
    let mut hints = rxing::DecodeHints::default().with(rxing::DecodeHintValue::TryHarder(true));
    let found =
        rxing::helpers::detect_multiple_in_luma_with_hints(luma.into_raw(), w, h, &mut hints).unwrap_or_default();
    let mut codes: Vec<Code> = found
        .iter()
        .map(|r| Code { format: format!("{:?}", r.getBarcodeFormat()), text: r.getText().to_owned() })
        .collect();
    codes.dedup();
    if codes.is_empty() {
        return Err(Unreadable::NoCode);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(name: &str) -> Vec<u8> {
        let path = format!("{}/../../shared/core/tests/data/barcodes/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn real_photos_of_ean_13_code_128_and_qr_codes_read() {
        assert_eq!(
            read(&photo("ean13-book.png")),
            Ok(vec![Code { format: "EAN_13".into(), text: "9780393058673".into() }])
        );
        assert_eq!(read(&photo("code128.png")), Ok(vec![Code { format: "CODE_128".into(), text: "168901".into() }]));
        let qr = read(&photo("qr-phone.png")).unwrap_or_default();
        assert_eq!(qr[0].format, "QR_CODE");
        assert!(qr[0].text.starts_with("MEBKM:URL:"), "{qr:?}");
    }

    #[test]
    fn what_holds_no_readable_code_says_so() {
        assert_eq!(read(&photo("ean13-blurred.png")), Err(Unreadable::NoCode), "a real photo ZXing cannot read either");
        assert_eq!(read(b"just text"), Err(Unreadable::NotAnImage));
        let png = photo("code128.png");
        assert!(matches!(read(&png[..png.len() / 3]), Err(Unreadable::Photo(_))), "truncated");
    }
}
