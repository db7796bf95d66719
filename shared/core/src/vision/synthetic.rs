//! Synthetic boards, for the engine's tests, the end-to-end tests and the benchmark: a
//! reference drawn with traces and components, and photos made from it the way a bench
//! camera takes them (shifted, turned, scaled, lit unevenly, noisy).

use super::compare::{Bbox, Component};
use super::register::Similarity;
use super::Rgb;

pub const BOARD: [f32; 3] = [0.08, 0.35, 0.15];

pub fn fill(img: &mut Rgb, x: usize, y: usize, w: usize, h: usize, c: [f32; 3]) {
    for yy in y..(y + h).min(img.h) {
        for xx in x..(x + w).min(img.w) {
            img.px[yy * img.w + xx] = c;
        }
    }
}

pub fn components() -> Vec<Component> {
    let c = |r: &str, kind: &str, x: f32, y: f32, w: f32, h: f32| Component {
        reference: r.into(),
        kind: kind.into(),
        bbox: Bbox { x, y, w, h },
    };
    vec![
        c("U1", "ic", 60.0, 50.0, 80.0, 60.0),
        c("U2", "ic", 230.0, 60.0, 60.0, 60.0),
        c("C1", "capacitor", 100.0, 170.0, 22.0, 14.0),
        c("R1", "resistor", 160.0, 185.0, 26.0, 10.0),
        c("J1", "connector", 290.0, 200.0, 70.0, 34.0),
    ]
}

/// The reference board, optionally without U2 and with a solder blob at (x, y, radius).
pub fn board(without_u2: bool, blob: Option<(f32, f32, f32)>) -> Rgb {
    let (w, h) = (400, 300);
    let mut img = Rgb { w, h, px: vec![BOARD; w * h] };
    let copper = [0.72, 0.55, 0.22];
    for y in (12..h).step_by(23) {
        fill(&mut img, 0, y, w, 2, copper);
    }
    for x in (9..w).step_by(37) {
        fill(&mut img, x, 0, 2, h, copper);
    }
    for c in components() {
        if without_u2 && c.reference == "U2" {
            continue;
        }
        let (x, y, cw, ch) = (c.bbox.x as usize, c.bbox.y as usize, c.bbox.w as usize, c.bbox.h as usize);
        let (body, pin) = match c.kind.as_str() {
            "ic" => ([0.07, 0.07, 0.08], [0.8, 0.8, 0.8]),
            "capacitor" => ([0.78, 0.66, 0.45], [0.85, 0.85, 0.85]),
            "resistor" => ([0.15, 0.2, 0.55], [0.85, 0.85, 0.85]),
            _ => ([0.92, 0.92, 0.9], [0.6, 0.6, 0.6]),
        };
        fill(&mut img, x, y, cw, ch, body);
        // Pins along the long sides, a marking in the middle.
        for px in (x + 3..x + cw - 3).step_by(8) {
            fill(&mut img, px, y.saturating_sub(3), 3, 3, pin);
            fill(&mut img, px, y + ch, 3, 3, pin);
        }
        fill(&mut img, x + cw / 4, y + ch / 2, cw / 2, 2, pin);
    }
    if let Some((bx, by, r)) = blob {
        for y in 0..h {
            for x in 0..w {
                if ((x as f32 - bx).powi(2) + (y as f32 - by).powi(2)).sqrt() <= r {
                    img.px[y * w + x] = [0.86, 0.86, 0.88];
                }
            }
        }
    }
    img
}

/// A photo of `scene` through `t` (reference → photo), `w`×`h`, lit from the left and
/// noisy (a fixed pseudo-random sequence).
pub fn photograph(scene: &Rgb, t: Similarity, w: usize, h: usize, relit: bool) -> Rgb {
    photograph_through(scene, t, w, h, relit, |x, y| (x, y))
}

/// [`photograph`] through a lens that moves each photo pixel (x, y) to `lens(x, y)` before
/// the similarity: perspective, barrel distortion, what a real camera adds.
pub fn photograph_through(
    scene: &Rgb,
    t: Similarity,
    w: usize,
    h: usize,
    relit: bool,
    lens: impl Fn(f32, f32) -> (f32, f32),
) -> Rgb {
    let mut out = Rgb { w, h, px: vec![[0.05, 0.05, 0.05]; w * h] };
    let (s, c) = t.angle.sin_cos();
    let mut seed: u32 = 12345;
    for y in 0..h {
        for x in 0..w {
            // Inverse: r = R(−a)·(p − t) / s.
            let (lx, ly) = lens(x as f32, y as f32);
            let (dx, dy) = (lx - t.tx, ly - t.ty);
            let (rx, ry) = ((c * dx + s * dy) / t.scale, (-s * dx + c * dy) / t.scale);
            let mut p = if scene.inside(rx, ry) { scene.sample(rx, ry) } else { [0.05, 0.05, 0.05] };
            if relit {
                let gain = 0.78 + 0.35 * x as f32 / w as f32;
                for v in p.iter_mut() {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.04;
                    *v = (*v * gain + 0.03 + noise).clamp(0.0, 1.0);
                }
            }
            out.px[y * w + x] = p;
        }
    }
    out
}

/// `png` with its header claiming `w` × `h` pixels (its checksum fixed): a decompression
/// bomb's shape, for the tests of the limits.
pub fn with_declared_size(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = png.to_vec();
    if out.len() < 33 {
        return out;
    }
    out[16..20].copy_from_slice(&w.to_be_bytes());
    out[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
