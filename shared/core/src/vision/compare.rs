//! A registered photo against its reference: lighting normalised block by block, a
//! difference that forgives the last pixel of misalignment, regions above the noise floor,
//! a kind, severity and confidence for each, the overlapped component, a condition score
//! with its factors, and an overlay with the regions drawn.

use serde::{Deserialize, Serialize};

use super::refine::{self, Field};
use super::register::{self, Similarity};
use super::{Gray, Rgb};

/// A rectangle in reference pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bbox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Bbox {
    fn intersection(&self, o: &Bbox) -> f32 {
        let (x0, y0) = (self.x.max(o.x), self.y.max(o.y));
        let (x1, y1) = ((self.x + self.w).min(o.x + o.w), (self.y + self.h).min(o.y + o.h));
        (x1 - x0).max(0.0) * (y1 - y0).max(0.0)
    }

    fn area(&self) -> f32 {
        self.w * self.h
    }
}

/// An annotated component of the reference board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    #[serde(rename = "ref")]
    pub reference: String,
    pub kind: String,
    pub bbox: Bbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    MissingComponent,
    ExtraMaterial,
    Discoloration,
    Damage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Defect {
    pub bbox: Bbox,
    /// Reference pixels.
    pub area: f32,
    pub kind: DefectKind,
    /// `minor`, `major` or `critical`.
    pub severity: String,
    pub confidence: f32,
    /// The reference component it overlaps most, if any.
    pub component: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub factor: String,
    pub weight: f32,
    pub score: u32,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub defects: Vec<Defect>,
    pub condition_score: u32,
    pub factors: Vec<Factor>,
    /// How well the photo lined up with the reference (normalised cross-correlation).
    pub registration: RegistrationView,
    /// The difference above which a pixel counts (after normalisation), 0..√3.
    pub noise_floor: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationView {
    pub scale: f32,
    pub rotation_degrees: f32,
    pub shift_x: f32,
    pub shift_y: f32,
    pub correlation: f32,
}

/// Below this correlation the photo is not of the reference's board (or not of a board).
pub const MIN_CORRELATION: f32 = 0.35;

/// The photo brought into the reference's frame (at the reference's analysis size) by the
/// similarity `t` after the local `field`, and which pixels the photo covers.
fn warp(photo: &Rgb, t: &Similarity, field: &Field, w: usize, h: usize) -> (Rgb, Vec<bool>) {
    let mut px = vec![[0.0; 3]; w * h];
    let mut valid = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = field.at(x as f32, y as f32);
            let (sx, sy) = t.apply(x as f32 + dx, y as f32 + dy);
            if photo.inside(sx, sy) {
                px[y * w + x] = photo.sample(sx, sy);
                valid[y * w + x] = true;
            }
        }
    }
    (Rgb { w, h, px }, valid)
}

/// Lighting: per block of a 6×6 grid, each channel's gain and offset fitted (least squares,
/// then again without the worst quarter of pixels, so that a defect does not bend it), then
/// interpolated across the image.
fn normalise(aligned: &mut Rgb, reference: &Rgb, valid: &[bool], exclude: &[bool]) {
    const G: usize = 6;
    let (w, h) = (reference.w, reference.h);
    let mut params = vec![[(1.0f32, 0.0f32); 3]; G * G];
    for by in 0..G {
        for bx in 0..G {
            let (x0, x1) = (bx * w / G, (bx + 1) * w / G);
            let (y0, y1) = (by * h / G, (by + 1) * h / G);
            for (c, param) in params[by * G + bx].iter_mut().enumerate() {
                let mut pairs: Vec<(f32, f32)> = Vec::new();
                for y in y0..y1 {
                    for x in x0..x1 {
                        let i = y * w + x;
                        if valid[i] && !exclude[i] {
                            pairs.push((aligned.px[i][c], reference.px[i][c]));
                        }
                    }
                }
                let fit = |pairs: &[(f32, f32)]| -> Option<(f32, f32)> {
                    let n = pairs.len() as f32;
                    if n < 16.0 {
                        return None;
                    }
                    let (sx, sy) = pairs.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
                    let (mx, my) = (sx / n, sy / n);
                    let (mut sxx, mut sxy) = (0.0, 0.0);
                    for (x, y) in pairs {
                        sxx += (x - mx) * (x - mx);
                        sxy += (x - mx) * (y - my);
                    }
                    let gain = if sxx > 1e-6 { (sxy / sxx).clamp(0.25, 4.0) } else { 1.0 };
                    Some((gain, my - gain * mx))
                };
                if let Some((g, o)) = fit(&pairs) {
                    pairs.sort_by(|a, b| (g * a.0 + o - a.1).abs().total_cmp(&(g * b.0 + o - b.1).abs()));
                    let keep = pairs.len() * 3 / 4;
                    *param = fit(&pairs[..keep]).unwrap_or((g, o));
                }
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            // Bilinear between block centres.
            let gx = ((x as f32 + 0.5) * G as f32 / w as f32 - 0.5).clamp(0.0, (G - 1) as f32);
            let gy = ((y as f32 + 0.5) * G as f32 / h as f32 - 0.5).clamp(0.0, (G - 1) as f32);
            let (ix, iy) = (gx.floor() as usize, gy.floor() as usize);
            let (jx, jy) = ((ix + 1).min(G - 1), (iy + 1).min(G - 1));
            let (fx, fy) = (gx - ix as f32, gy - iy as f32);
            let i = y * w + x;
            for (c, v) in aligned.px[i].iter_mut().enumerate() {
                let p = |bx: usize, by: usize| params[by * G + bx][c];
                let mix = |a: (f32, f32), b: (f32, f32), f: f32| (a.0 * (1.0 - f) + b.0 * f, a.1 * (1.0 - f) + b.1 * f);
                let top = mix(p(ix, iy), p(jx, iy), fx);
                let bottom = mix(p(ix, jy), p(jx, jy), fx);
                let (g, o) = mix(top, bottom, fy);
                *v = (g * *v + o).clamp(0.0, 1.0);
            }
        }
    }
}

/// A 3×3 box blur.
fn blur(img: &Rgb) -> Rgb {
    let (w, h) = (img.w, img.h);
    let mut out = img.clone();
    for y in 0..h {
        for x in 0..w {
            let mut sum = [0.0; 3];
            let mut n = 0.0;
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let p = img.px[ny * w + nx];
                    for c in 0..3 {
                        sum[c] += p[c];
                    }
                    n += 1.0;
                }
            }
            out.px[y * w + x] = sum.map(|v| v / n);
        }
    }
    out
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The difference at each pixel, forgiving a pixel of misalignment: the smaller of the
/// best match of the reference pixel among the photo's neighbours and of the photo pixel
/// among the reference's.
fn tolerant_difference(aligned: &Rgb, reference: &Rgb, valid: &[bool]) -> Vec<f32> {
    let (w, h) = (reference.w, reference.h);
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !valid[i] {
                continue;
            }
            let (mut best_a, mut best_b) = (f32::MAX, f32::MAX);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if valid[j] {
                        best_a = best_a.min(distance(reference.px[i], aligned.px[j]));
                    }
                    best_b = best_b.min(distance(aligned.px[i], reference.px[j]));
                }
            }
            out[i] = best_a.max(best_b);
        }
    }
    out
}

/// The farthest a region's neighbourhood is moved to see whether that explains it.
const PARALLAX: i64 = 5;
/// The most regions of one photo checked for displacement.
const DISPLACEMENT_CHECKS: usize = 40;

/// Whether a region (its box `x0..=x1`, `y0..=y1`) is something in the right place seen a
/// few pixels off — the far end of a hole or a tall part's top, which parallax moves
/// relative to the board — rather than something added or gone. Its neighbourhood (the
/// box and a margin) is compared with the photo moved by up to [`PARALLAX`] pixels: if
/// one move makes most of the neighbourhood's differences vanish, it was displaced. Moving
/// cannot explain a real change: an added blob or a missing part is still there, only
/// somewhere else in the neighbourhood.
fn displaced(
    aligned: &Rgb,
    reference: &Rgb,
    valid: &[bool],
    floor: f32,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> bool {
    let (w, h) = (reference.w as i64, reference.h as i64);
    let margin = ((x1 - x0).max(y1 - y0) as i64 / 2).max(6);
    let (px0, py0) = ((x0 as i64 - margin).max(0), (y0 as i64 - margin).max(0));
    let (px1, py1) = ((x1 as i64 + margin).min(w - 1), (y1 as i64 + margin).min(h - 1));
    let above = |sx: i64, sy: i64| -> usize {
        let mut n = 0;
        // Every other pixel each way: a count, not a picture.
        for y in (py0..=py1).step_by(2) {
            for x in (px0..=px1).step_by(2) {
                let r = reference.px[(y * w + x) as usize];
                let mut best = f32::MAX;
                for ny in (y + sy - 1).max(0)..=(y + sy + 1).min(h - 1) {
                    for nx in (x + sx - 1).max(0)..=(x + sx + 1).min(w - 1) {
                        let j = (ny * w + nx) as usize;
                        if valid[j] {
                            best = best.min(distance(r, aligned.px[j]));
                        }
                    }
                }
                if best > floor && best < f32::MAX {
                    n += 1;
                }
            }
        }
        n
    };
    let here = above(0, 0);
    if here == 0 {
        return false;
    }
    (-PARALLAX..=PARALLAX)
        .flat_map(|sy| (-PARALLAX..=PARALLAX).map(move |sx| (sx, sy)))
        .filter(|s| *s != (0, 0))
        .any(|(sx, sy)| above(sx, sy) * 10 <= here * 3)
}

fn median(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    values.select_nth_unstable_by(mid, f32::total_cmp);
    values[mid]
}

/// One morphological pass over a mask: erosion (`all`) or dilation (any) in a 3×3 window.
fn morph(mask: &[bool], w: usize, h: usize, erode: bool) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut hit = erode;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    let v = nx >= 0 && ny >= 0 && nx < w as i64 && ny < h as i64 && mask[ny as usize * w + nx as usize];
                    if erode {
                        hit &= v;
                    } else {
                        hit |= v;
                    }
                }
            }
            out[y * w + x] = hit;
        }
    }
    out
}

/// 8-connected regions of a mask: each its pixel indices.
fn regions(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    for start in 0..w * h {
        if !mask[start] || seen[start] {
            continue;
        }
        let mut stack = vec![start];
        seen[start] = true;
        let mut pixels = Vec::new();
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(pixels);
    }
    out
}

/// Mean gradient magnitude (central differences) of `g` over `pixels`.
fn texture(g: &Gray, pixels: &[usize]) -> f32 {
    let (w, h) = (g.w, g.h);
    let mut sum = 0.0;
    for &i in pixels {
        let (x, y) = (i % w, i / w);
        let at = |x: usize, y: usize| g.px[y.min(h - 1) * w + x.min(w - 1)];
        let gx = at(x + 1, y) - at(x.saturating_sub(1), y);
        let gy = at(x, y + 1) - at(x, y.saturating_sub(1));
        sum += (gx * gx + gy * gy).sqrt();
    }
    sum / pixels.len().max(1) as f32
}

/// Each channel's median over `pixels` (black for none).
fn median_colour(img: &Rgb, pixels: &[usize]) -> [f32; 3] {
    let mut channel = Vec::with_capacity(pixels.len());
    [0, 1, 2].map(|c| {
        channel.clear();
        channel.extend(pixels.iter().map(|i| img.px[*i][c]));
        median(&mut channel)
    })
}

fn mean_colour(img: &Rgb, pixels: &[usize]) -> [f32; 3] {
    let mut m = [0.0; 3];
    for &i in pixels {
        for (acc, v) in m.iter_mut().zip(img.px[i]) {
            *acc += v;
        }
    }
    m.map(|v| v / pixels.len().max(1) as f32)
}

/// Compares `photo` with `reference` (both at analysis scale; `components` in reference
/// analysis pixels). `to_reference` scales analysis pixels to the reference's own pixels
/// for the answer. `None` when the photo does not line up with the reference at all.
pub fn compare(reference: &Rgb, components: &[Component], photo: &Rgb, to_reference: f32) -> (Analysis, Rgb) {
    let (w, h) = (reference.w, reference.h);
    let ref_gray = reference.gray();
    let reg = register::register(&ref_gray, &photo.gray());
    let (first, first_valid) = warp(photo, &reg.transform, &Field::zero(), w, h);
    // What the similarity leaves (perspective, the lens, parallax), block by block.
    let field = refine::field(&ref_gray, &first.gray(), &first_valid);
    let (warped, valid) =
        if field.largest() > 0.25 { warp(photo, &reg.transform, &field, w, h) } else { (first, first_valid) };
    // Twice: the second time the lighting is fitted without what the first found, so that
    // a large defect does not bend the light of its neighbourhood into false differences.
    let mut exclude = vec![false; w * h];
    let mut found = None;
    let blurred_reference = blur(reference);
    for _ in 0..2 {
        let mut aligned = warped.clone();
        normalise(&mut aligned, reference, &valid, &exclude);
        // A 3×3 blur of both first: resampling softens thin, sharp features (markings,
        // traces) differently in each, which is not a defect.
        let blurred = blur(&aligned);
        let diff = tolerant_difference(&blurred, &blurred_reference, &valid);
        // The noise floor: the typical difference and its spread (median absolute
        // deviation), never below what camera noise and re-lighting leave behind.
        let mut sample: Vec<f32> = diff.iter().zip(&valid).filter(|(_, v)| **v).map(|(d, _)| *d).collect();
        let med = median(&mut sample.clone());
        let mut deviations: Vec<f32> = sample.iter_mut().map(|d| (*d - med).abs()).collect();
        let mad = median(&mut deviations);
        let floor = (med + 6.0 * 1.4826 * mad).max(0.12);
        let mask: Vec<bool> = diff.iter().zip(&valid).map(|(d, v)| *v && *d > floor).collect();
        // Open (drop specks), then close (join a defect's pieces).
        let opened = morph(&morph(&mask, w, h, true), w, h, false);
        let closed = morph(&morph(&opened, w, h, false), w, h, true);
        exclude = morph(&morph(&closed, w, h, false), w, h, false);
        found = Some((aligned, blurred, diff, floor, closed));
    }
    let Some((aligned, blurred, diff, floor, closed)) = found else { unreachable!("the loop runs twice") };

    let photo_gray = aligned.gray();
    // The bare board's colour: the reference outside every component.
    let bare: Vec<usize> = (0..w * h)
        .filter(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            !components
                .iter()
                .any(|c| x >= c.bbox.x && x < c.bbox.x + c.bbox.w && y >= c.bbox.y && y < c.bbox.y + c.bbox.h)
        })
        .collect();
    let board = mean_colour(reference, &bare);
    // Its most common colour, which traces and markings do not pull.
    let board_typical = median_colour(reference, &bare);
    let min_area = ((w * h) as f32 * 0.0004).max(12.0) as usize;
    let mut defects = Vec::new();
    let mut displacement_checks = 0;
    for pixels in regions(&closed, w, h) {
        if pixels.len() < min_area {
            continue;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for &i in &pixels {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let bbox = Bbox { x: x0 as f32, y: y0 as f32, w: (x1 - x0 + 1) as f32, h: (y1 - y0 + 1) as f32 };
        let component = components
            .iter()
            .map(|c| (c, c.bbox.intersection(&bbox)))
            .filter(|(_, a)| *a > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let on_component = component.is_some_and(|(c, a)| a >= 0.3 * bbox.area().min(c.bbox.area()));
        let (ref_mean, photo_mean) = (mean_colour(reference, &pixels), mean_colour(&aligned, &pixels));
        let (ref_tex, photo_tex) = (texture(&ref_gray, &pixels), texture(&photo_gray, &pixels));
        let luma = |c: [f32; 3]| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
        let bare_now = distance(photo_mean, board);
        // Missing: where a component was, the bare board's colour and no more texture than
        // the component had (a scorch is darker, but mottled and not board-coloured) — or,
        // as a part lifted off really looks, mostly bare board with its pads and outline
        // left: the region's typical colour is the board's where it was the part's.
        let typical_now = distance(median_colour(&aligned, &pixels), board_typical);
        let kind = if on_component
            && ((bare_now < 0.1 && bare_now < 0.5 * distance(ref_mean, board) && photo_tex <= 1.5 * ref_tex + 0.05)
                || (typical_now < 0.12
                    && typical_now < 0.5 * distance(median_colour(reference, &pixels), board_typical)))
        {
            DefectKind::MissingComponent
        } else if luma(photo_mean) < luma(ref_mean) - 0.25 && photo_tex > 0.5 * ref_tex {
            DefectKind::Damage
        } else if distance(photo_mean, board) > distance(ref_mean, board) + 0.1 || photo_tex > 1.5 * ref_tex + 0.02 {
            DefectKind::ExtraMaterial
        } else {
            DefectKind::Discoloration
        };
        let strength = pixels.iter().map(|i| diff[*i]).sum::<f32>() / pixels.len() as f32;
        // Barely over the floor over the whole region: noise that happened to clump.
        if strength < 1.5 * floor {
            continue;
        }
        // At most [`DISPLACEMENT_CHECKS`] regions are looked at again (each costs a few
        // million comparisons): a photo with more has bigger problems than parallax.
        if displacement_checks < DISPLACEMENT_CHECKS {
            displacement_checks += 1;
            if displaced(&blurred, &blurred_reference, &valid, floor, (x0, y0, x1, y1)) {
                continue;
            }
        }
        let confidence = (0.5 + 0.5 * ((strength / floor - 1.0) / 2.0).min(1.0))
            * (pixels.len() as f32 / (4 * min_area) as f32).clamp(0.6, 1.0);
        let share = pixels.len() as f32 / (w * h) as f32;
        let severity = match kind {
            DefectKind::MissingComponent | DefectKind::Damage => "critical",
            _ if share > 0.01 || on_component => "major",
            _ => "minor",
        };
        let k = to_reference;
        defects.push(Defect {
            bbox: Bbox { x: bbox.x * k, y: bbox.y * k, w: bbox.w * k, h: bbox.h * k },
            area: pixels.len() as f32 * k * k,
            kind,
            severity: severity.into(),
            confidence: (confidence * 100.0).round() / 100.0,
            component: component.map(|(c, _)| c.reference.clone()),
        });
    }
    defects.sort_by(|a, b| b.area.total_cmp(&a.area));

    let count = |f: &dyn Fn(&Defect) -> bool| defects.iter().filter(|d| f(d)).count() as i64;
    let score_of = |n: i64, each: i64| (100 - n * each).clamp(0, 100) as u32;
    let missing = count(&|d| d.kind == DefectKind::MissingComponent);
    let extra = count(&|d| d.kind == DefectKind::ExtraMaterial);
    let colour = count(&|d| d.kind == DefectKind::Discoloration);
    let damage = count(&|d| d.kind == DefectKind::Damage);
    let factors = vec![
        Factor {
            factor: "components".into(),
            weight: 0.4,
            score: score_of(missing, 100),
            detail: format!("{missing} missing"),
        },
        Factor {
            factor: "damage".into(),
            weight: 0.3,
            score: score_of(damage, 100),
            detail: format!("{damage} damaged areas"),
        },
        Factor {
            factor: "cleanliness".into(),
            weight: 0.2,
            score: score_of(extra, 30),
            detail: format!("{extra} areas of extra material"),
        },
        Factor {
            factor: "discoloration".into(),
            weight: 0.1,
            score: score_of(colour, 25),
            detail: format!("{colour} discoloured areas"),
        },
    ];
    let condition_score = factors.iter().map(|f| f.weight * f.score as f32).sum::<f32>().round() as u32;
    let overlay = draw(&aligned, &valid, &defects, 1.0 / to_reference);
    let t = reg.transform;
    let analysis = Analysis {
        defects,
        condition_score,
        factors,
        registration: RegistrationView {
            scale: (t.scale * 1000.0).round() / 1000.0,
            rotation_degrees: (t.angle.to_degrees() * 10.0).round() / 10.0,
            shift_x: t.tx.round(),
            shift_y: t.ty.round(),
            correlation: (reg.correlation * 1000.0).round() / 1000.0,
        },
        noise_floor: (floor * 1000.0).round() / 1000.0,
    };
    (analysis, overlay)
}

/// The aligned photo with each defect's box drawn in its kind's colour (what the photo
/// does not cover dimmed).
fn draw(aligned: &Rgb, valid: &[bool], defects: &[Defect], k: f32) -> Rgb {
    let mut out = aligned.clone();
    for (p, v) in out.px.iter_mut().zip(valid) {
        if !*v {
            *p = [0.15, 0.15, 0.15];
        }
    }
    for d in defects {
        let colour = match d.kind {
            DefectKind::MissingComponent => [1.0, 0.1, 0.1],
            DefectKind::ExtraMaterial => [1.0, 0.8, 0.0],
            DefectKind::Discoloration => [0.2, 0.6, 1.0],
            DefectKind::Damage => [1.0, 0.0, 1.0],
        };
        let (x0, y0) = ((d.bbox.x * k) as i64 - 2, (d.bbox.y * k) as i64 - 2);
        let (x1, y1) = (((d.bbox.x + d.bbox.w) * k) as i64 + 1, ((d.bbox.y + d.bbox.h) * k) as i64 + 1);
        for t in 0..2 {
            for x in x0..=x1 {
                for y in [y0 - t, y1 + t] {
                    put(&mut out, x, y, colour);
                }
            }
            for y in y0..=y1 {
                for x in [x0 - t, x1 + t] {
                    put(&mut out, x, y, colour);
                }
            }
        }
    }
    out
}

fn put(img: &mut Rgb, x: i64, y: i64, c: [f32; 3]) {
    if x >= 0 && y >= 0 && (x as usize) < img.w && (y as usize) < img.h {
        img.px[y as usize * img.w + x as usize] = c;
    }
}
