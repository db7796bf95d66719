//! Board vision (issue 14): a photo of a board compared with a known-good reference of the
//! same model. Decoding (PNG, JPEG: the `image` crate) with limits, registration
//! ([`register`]), lighting normalisation, a misalignment-tolerant difference, regions, a
//! kind for each, a condition score with its factors, and an overlay. Pure: `vision` the
//! worker stores and serves; `qc-inspector` asks it.

pub mod compare;
pub mod refine;
pub mod register;
pub mod synthetic;
#[cfg(test)]
mod tests;

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// A grey image, values 0..1, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
}

impl Gray {
    pub fn mean(&self) -> f32 {
        self.px.iter().sum::<f32>() / self.px.len().max(1) as f32
    }

    /// Bilinear sample at (x, y), which must lie inside the image.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |x: usize, y: usize| self.px[y * self.w + x];
        at(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + at(x1, y0) * fx * (1.0 - fy)
            + at(x0, y1) * (1.0 - fx) * fy
            + at(x1, y1) * fx * fy
    }
}

/// A colour image, channels 0..1, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    pub w: usize,
    pub h: usize,
    pub px: Vec<[f32; 3]>,
}

impl Rgb {
    pub fn gray(&self) -> Gray {
        Gray { w: self.w, h: self.h, px: self.px.iter().map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).collect() }
    }

    /// Bilinear sample at (x, y) inside the image.
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |x: usize, y: usize| self.px[y * self.w + x];
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            *o = at(x0, y0)[c] * (1.0 - fx) * (1.0 - fy)
                + at(x1, y0)[c] * fx * (1.0 - fy)
                + at(x0, y1)[c] * (1.0 - fx) * fy
                + at(x1, y1)[c] * fx * fy;
        }
        out
    }

    pub fn inside(&self, x: f32, y: f32) -> bool {
        x >= 0.0 && y >= 0.0 && x <= (self.w - 1) as f32 && y <= (self.h - 1) as f32
    }
}

/// The largest photo accepted, in pixels (12 MP) and on each side.
pub const MAX_PIXELS: u64 = 12_000_000;
pub const MAX_SIDE: u32 = 8_000;
/// Images are analysed with their long side at most this many pixels.
pub const ANALYSIS_SIDE: u32 = 512;

/// A decoded photo at analysis scale, with its original size.
#[derive(Debug, Clone)]
pub struct Photo {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    /// The photo with its long side at most [`ANALYSIS_SIDE`].
    pub image: Rgb,
    /// Original pixels per analysed pixel.
    pub scale: f32,
}

/// Why an upload is not a photo the engine can use, and the status to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// 415: not PNG or JPEG.
    NotAnImage(String),
    /// 413: over the pixel limits (a decompression bomb's header included).
    TooLarge(String),
    /// 422: a PNG or JPEG that does not decode (truncated, corrupt).
    Undecodable(String),
}

/// The format the bytes are, from their signature: `png`, `jpeg` or `None`.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else {
        None
    }
}

/// The width and height a PNG's IHDR or a JPEG's start-of-frame declares.
pub fn declared_size(bytes: &[u8], format: &str) -> Option<(u32, u32)> {
    let be16 = |at: usize| bytes.get(at..at + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])));
    let be32 = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if format == "png" {
        // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
        if bytes.get(12..16) != Some(&b"IHDR"[..]) {
            return None;
        }
        return Some((be32(16)?, be32(20)?));
    }
    // JPEG: walk the markers to a start-of-frame (C0–CF but C4, C8, CC).
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let length = be16(at + 2)? as usize;
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return Some((be16(at + 7)?, be16(at + 5)?));
        }
        at += 2 + length;
    }
    None
}

/// Decodes a PNG or JPEG within the limits: the header's size is checked before any pixel
/// is decoded, then the image is reduced to analysis scale at once.
pub fn decode(bytes: &[u8]) -> Result<Photo, Refused> {
    let format = sniff(bytes).ok_or_else(|| Refused::NotAnImage("the file is neither PNG nor JPEG".into()))?;
    let image_format = if format == "png" { ImageFormat::Png } else { ImageFormat::Jpeg };
    // The size from the header itself, before any decoder is asked: a 50,000 × 50,000
    // header must be refused for what it is (on wasm32 the decoders' own arithmetic
    // overflows first and says only "memory limit exceeded").
    let (width, height) = declared_size(bytes, format)
        .ok_or_else(|| Refused::Undecodable(format!("the {format} header does not read")))?;
    if width == 0 || height == 0 {
        return Err(Refused::Undecodable("the image has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refused::TooLarge(format!(
            "the photo is {width} × {height}: at most 12 megapixels and {MAX_SIDE} pixels a side"
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 16 * 1024 * 1024);
    reader.limits(limits);
    let full = reader.decode().map_err(|e| Refused::Undecodable(format!("the {format} does not decode: {e}")))?;
    let long = width.max(height);
    let small = if long > ANALYSIS_SIDE {
        let k = ANALYSIS_SIDE as f32 / long as f32;
        let (w, h) = (((width as f32 * k).round() as u32).max(1), ((height as f32 * k).round() as u32).max(1));
        full.resize_exact(w, h, image::imageops::FilterType::Triangle)
    } else {
        full
    };
    let rgb = small.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let px =
        rgb.pixels().map(|p| [f32::from(p[0]) / 255.0, f32::from(p[1]) / 255.0, f32::from(p[2]) / 255.0]).collect();
    Ok(Photo { format, width, height, scale: width as f32 / w as f32, image: Rgb { w, h, px } })
}

/// `img` as PNG bytes.
pub fn encode_png(img: &Rgb) -> Vec<u8> {
    let mut buf = image::RgbImage::new(img.w as u32, img.h as u32);
    for (i, p) in img.px.iter().enumerate() {
        let to = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        buf.put_pixel((i % img.w) as u32, (i / img.w) as u32, image::Rgb([to(p[0]), to(p[1]), to(p[2])]));
    }
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB buffer cannot fail short of running out of memory.
    let _ = buf.write_to(&mut out, ImageFormat::Png);
    out.into_inner()
}
