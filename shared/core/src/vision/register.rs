//! Registration: where the reference board lies in a photo. The photo may be shifted,
//! rotated a few degrees and scaled; the transform is estimated, never assumed.
//!
//! Fourier–Mellin (Reddy & Chatterji, "An FFT-based technique for translation, rotation
//! and scale-invariant image registration", IEEE TIP 1996): the magnitude of a Fourier
//! transform ignores translation, and in log-polar coordinates a rotation and a scale
//! become a shift, which phase correlation finds; a second phase correlation then finds the
//! translation. Each sign convention is checked by trying the candidates and keeping the
//! one whose translation peak is strongest, then a local search polishes the result on the
//! normalised cross-correlation of the two images.

use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

use super::Gray;

/// Maps reference coordinates to photo coordinates: `p = scale · R(angle) · r + (tx, ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub scale: f32,
    /// Radians, counter-clockwise in image coordinates (y down).
    pub angle: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    pub const IDENTITY: Similarity = Similarity { scale: 1.0, angle: 0.0, tx: 0.0, ty: 0.0 };

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (s, c) = self.angle.sin_cos();
        (self.scale * (c * x - s * y) + self.tx, self.scale * (s * x + c * y) + self.ty)
    }

    /// This transform between images scaled by `from` (reference) and `to` (photo):
    /// the same mapping expressed in their original pixels.
    pub fn rescaled(&self, from: f32, to: f32) -> Similarity {
        Similarity { scale: self.scale * from / to, angle: self.angle, tx: self.tx / to, ty: self.ty / to }
    }
}

/// The registration and how sure it is: the normalised cross-correlation (−1 to 1) of the
/// reference with the photo brought into its frame.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    pub transform: Similarity,
    pub correlation: f32,
}

/// The side of the square canvases the frequency analysis runs on.
const N: usize = 256;

/// `img` scaled to fit 90 % of an N×N canvas, centred, padded with its mean: the canvas,
/// the scale and the offset (canvas = scale · image + offset).
fn canvas(img: &Gray) -> (Vec<f32>, f32, (f32, f32)) {
    let k = 0.9 * N as f32 / img.w.max(img.h) as f32;
    let (ox, oy) = ((N as f32 - img.w as f32 * k) / 2.0, (N as f32 - img.h as f32 * k) / 2.0);
    let mean = img.mean();
    let mut out = vec![mean; N * N];
    for y in 0..N {
        for x in 0..N {
            let (ix, iy) = ((x as f32 - ox) / k, (y as f32 - oy) / k);
            if ix >= 0.0 && iy >= 0.0 && ix <= (img.w - 1) as f32 && iy <= (img.h - 1) as f32 {
                out[y * N + x] = img.sample(ix, iy);
            }
        }
    }
    (out, k, (ox, oy))
}

fn fft2(data: &mut [Complex<f32>], inverse: bool, planner: &mut FftPlanner<f32>) {
    let fft = if inverse { planner.plan_fft_inverse(N) } else { planner.plan_fft_forward(N) };
    for row in data.chunks_mut(N) {
        fft.process(row);
    }
    let mut column = vec![Complex::new(0.0, 0.0); N];
    for x in 0..N {
        for y in 0..N {
            column[y] = data[y * N + x];
        }
        fft.process(&mut column);
        for y in 0..N {
            data[y * N + x] = column[y];
        }
    }
}

fn hann(i: usize) -> f32 {
    0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (N - 1) as f32).cos()
}

/// The spectrum of a windowed canvas.
fn spectrum(canvas: &[f32], planner: &mut FftPlanner<f32>) -> Vec<Complex<f32>> {
    let mean = canvas.iter().sum::<f32>() / canvas.len() as f32;
    let mut data: Vec<Complex<f32>> =
        (0..N * N).map(|i| Complex::new((canvas[i] - mean) * hann(i % N) * hann(i / N), 0.0)).collect();
    fft2(&mut data, false, planner);
    data
}

/// The log-polar image (rows: angle over 0..π, columns: log radius) of a spectrum's
/// high-passed, centred magnitude.
fn log_polar(spec: &[Complex<f32>]) -> Vec<f32> {
    let half = (N / 2) as i64;
    let wrap = |v: i64| v.rem_euclid(N as i64) as usize;
    let magnitude = |fx: i64, fy: i64| -> f32 {
        let (u, v) = (fx as f32 / N as f32, fy as f32 / N as f32);
        let pi = std::f32::consts::PI;
        let x = (pi * u).cos() * (pi * v).cos();
        let high_pass = (1.0 - x) * (2.0 - x);
        (spec[wrap(fy) * N + wrap(fx)].norm() + 1.0).ln() * high_pass
    };
    let rmax = (N / 2 - 1) as f32;
    let base = rmax.ln() / N as f32;
    let mut out = vec![0.0; N * N];
    for t in 0..N {
        let theta = std::f32::consts::PI * t as f32 / N as f32;
        let (s, c) = theta.sin_cos();
        for j in 0..N {
            let r = (base * j as f32).exp();
            let (x, y) = (r * c, r * s);
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            if x0.abs() >= half || y0.abs() >= half {
                continue;
            }
            out[t * N + j] = magnitude(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + magnitude(x0 + 1, y0) * fx * (1.0 - fy)
                + magnitude(x0, y0 + 1) * (1.0 - fx) * fy
                + magnitude(x0 + 1, y0 + 1) * fx * fy;
        }
    }
    out
}

/// Phase correlation: the shift `d` with `b(x) ≈ a(x − d)` (each axis in −N/2..N/2, to a
/// tenth of a pixel) and the height of its peak.
fn phase_correlate(a: &[Complex<f32>], b: &[Complex<f32>], planner: &mut FftPlanner<f32>) -> (f32, f32, f32) {
    let mut r: Vec<Complex<f32>> = a
        .iter()
        .zip(b)
        .map(|(a, b)| {
            let p = b * a.conj();
            let n = p.norm();
            if n > 1e-12 {
                p / n
            } else {
                Complex::new(0.0, 0.0)
            }
        })
        .collect();
    fft2(&mut r, true, planner);
    let values: Vec<f32> = r.iter().map(|c| c.re / (N * N) as f32).collect();
    let (mut best, mut at) = (f32::MIN, 0);
    for (i, v) in values.iter().enumerate() {
        if *v > best {
            best = *v;
            at = i;
        }
    }
    let (px, py) = (at % N, at / N);
    let value = |x: i64, y: i64| values[(y.rem_euclid(N as i64) as usize) * N + x.rem_euclid(N as i64) as usize];
    // A parabola through the peak and its neighbours, on each axis.
    let sub = |m: f32, c: f32, p: f32| {
        let d = m - 2.0 * c + p;
        if d.abs() < 1e-12 {
            0.0
        } else {
            (0.5 * (m - p) / d).clamp(-0.5, 0.5)
        }
    };
    let (x, y) = (px as i64, py as i64);
    let dx = sub(value(x - 1, y), best, value(x + 1, y));
    let dy = sub(value(x, y - 1), best, value(x, y + 1));
    let signed = |p: usize, d: f32| if p > N / 2 { p as f32 - N as f32 + d } else { p as f32 + d };
    (signed(px, dx), signed(py, dy), best)
}

/// `canvas` resampled so that `out(c) = canvas(s·R(a)·(c − centre) + centre)`.
fn rotate_scale(canvas: &[f32], scale: f32, angle: f32) -> Vec<f32> {
    let ctr = N as f32 / 2.0;
    let (s, c) = angle.sin_cos();
    let mean = canvas.iter().sum::<f32>() / canvas.len() as f32;
    let img = Gray { w: N, h: N, px: canvas.to_vec() };
    let mut out = vec![mean; N * N];
    for y in 0..N {
        for x in 0..N {
            let (dx, dy) = (x as f32 - ctr, y as f32 - ctr);
            let (sx, sy) = (scale * (c * dx - s * dy) + ctr, scale * (s * dx + c * dy) + ctr);
            if sx >= 0.0 && sy >= 0.0 && sx <= (N - 1) as f32 && sy <= (N - 1) as f32 {
                out[y * N + x] = img.sample(sx, sy);
            }
        }
    }
    out
}

/// The normalised cross-correlation of `reference` with `photo` seen through `t`, over the
/// reference pixels that land inside the photo (every `step`-th pixel).
pub fn correlation(reference: &Gray, photo: &Gray, t: &Similarity, step: usize) -> f32 {
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for y in (0..reference.h).step_by(step) {
        for x in (0..reference.w).step_by(step) {
            let (px, py) = t.apply(x as f32, y as f32);
            if px < 0.0 || py < 0.0 || px > (photo.w - 1) as f32 || py > (photo.h - 1) as f32 {
                continue;
            }
            let (a, b) = (f64::from(reference.px[y * reference.w + x]), f64::from(photo.sample(px, py)));
            n += 1.0;
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
        }
    }
    // Too little overlap says nothing.
    if n < (reference.w * reference.h / (step * step) / 4) as f64 {
        return -1.0;
    }
    let cov = sab - sa * sb / n;
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    if va <= 1e-12 || vb <= 1e-12 {
        return 0.0;
    }
    (cov / (va * vb).sqrt()) as f32
}

/// Where `reference` lies in `photo`.
pub fn register(reference: &Gray, photo: &Gray) -> Registration {
    let mut planner = FftPlanner::new();
    let (ref_canvas, kr, (orx, ory)) = canvas(reference);
    let (photo_canvas, kp, (opx, opy)) = canvas(photo);
    let ref_spec = spectrum(&ref_canvas, &mut planner);
    let photo_spec = spectrum(&photo_canvas, &mut planner);
    let lp = |spec: &[Complex<f32>], planner: &mut FftPlanner<f32>| {
        let img = log_polar(spec);
        let mut data: Vec<Complex<f32>> = img.iter().map(|v| Complex::new(*v, 0.0)).collect();
        fft2(&mut data, false, planner);
        data
    };
    let (lp_ref, lp_photo) = (lp(&ref_spec, &mut planner), lp(&photo_spec, &mut planner));
    let (d_rho, d_theta, _) = phase_correlate(&lp_ref, &lp_photo, &mut planner);
    let angle = std::f32::consts::PI * d_theta / N as f32;
    let scale = ((N / 2 - 1) as f32).ln() / N as f32 * d_rho;
    let scale = scale.exp();

    // Each reading of the signs (and the half-turn the magnitude cannot see): keep the one
    // whose translation peak is strongest.
    let ctr = N as f32 / 2.0;
    let mut best: Option<(f32, Similarity)> = None;
    for s in [scale, 1.0 / scale] {
        for a in [angle, -angle, angle + std::f32::consts::PI, -angle + std::f32::consts::PI] {
            let turned = rotate_scale(&photo_canvas, s, a);
            let turned_spec = spectrum(&turned, &mut planner);
            let (dx, dy, peak) = phase_correlate(&ref_spec, &turned_spec, &mut planner);
            // ref(c) = turned(c + d) = photo(s·R(a)·(c + d − ctr) + ctr)
            let (sn, cs) = a.sin_cos();
            let (ux, uy) = (dx - ctr, dy - ctr);
            let canvas_t =
                Similarity { scale: s, angle: a, tx: s * (cs * ux - sn * uy) + ctr, ty: s * (sn * ux + cs * uy) + ctr };
            if best.is_none_or(|(p, _)| peak > p) {
                best = Some((peak, canvas_t));
            }
        }
    }
    let canvas_t = best.map(|(_, t)| t).unwrap_or(Similarity::IDENTITY);
    // From canvas to original pixels: p = (T(kr·r + or) − op) / kp.
    let (at_x, at_y) = canvas_t.apply(orx, ory);
    let mut t = Similarity {
        scale: canvas_t.scale * kr / kp,
        angle: canvas_t.angle,
        tx: (at_x - opx) / kp,
        ty: (at_y - opy) / kp,
    };
    let mut score = correlation(reference, photo, &t, 2);
    let centre = (reference.w as f32 / 2.0, reference.h as f32 / 2.0);
    // Polish: a coordinate search with shrinking steps.
    let mut steps = [0.004f32, 0.25f32.to_radians(), 1.0, 1.0];
    for _ in 0..10 {
        let mut improved = false;
        for (param, step) in steps.iter().enumerate() {
            for sign in [-1.0f32, 1.0] {
                let mut c = t;
                match param {
                    0 => c.scale *= 1.0 + sign * step,
                    1 => c.angle += sign * step,
                    2 => c.tx += sign * step,
                    _ => c.ty += sign * step,
                }
                // Scale and turn about the board's centre, not the image's corner.
                if param < 2 {
                    let (want_x, want_y) = t.apply(centre.0, centre.1);
                    let (got_x, got_y) = c.apply(centre.0, centre.1);
                    c.tx += want_x - got_x;
                    c.ty += want_y - got_y;
                }
                let v = correlation(reference, photo, &c, 2);
                if v > score {
                    (t, score, improved) = (c, v, true);
                }
            }
        }
        if !improved {
            for s in steps.iter_mut() {
                *s /= 2.0;
            }
        }
    }
    Registration { transform: t, correlation: correlation(reference, photo, &t, 1) }
}
