//! The second stage of registration: what a similarity cannot express. A real camera adds
//! perspective (the board not quite square to the lens), lens distortion and parallax, so
//! after the best rotation, scale and shift, parts of the photo still sit a few pixels off
//! — and every edge there would read as a difference. Here the photo, already brought into
//! the reference's frame, is matched block by block (normalised cross-correlation over a
//! small window of shifts, refined to a fraction of a pixel), a smooth surface (a cubic) is
//! fitted through the blocks' shifts without the ones it fits worst (so that one block
//! fooled by a defect follows the others instead of bending the board), and the shifts are
//! interpolated into a smooth field.
//!
//! A defect survives this: a smooth surface through dozens of blocks cannot follow one, and a
//! shift of a few pixels cannot make a missing part appear.

use super::Gray;

/// The blocks across the longer side.
const GRID: usize = 8;
/// The largest shift looked for, in analysis pixels.
const REACH: i64 = 6;
/// A block is matched only if it has this much texture (standard deviation of grey)…
const MIN_SPREAD: f32 = 0.02;
/// …and its best match correlates at least this well.
const MIN_MATCH: f32 = 0.5;

/// A smooth displacement field over the reference's frame: the photo pixel that belongs
/// at reference (x, y) is at (x + dx, y + dy) of the photo as first aligned.
#[derive(Debug, Clone)]
pub struct Field {
    cols: usize,
    rows: usize,
    cell_w: f32,
    cell_h: f32,
    shifts: Vec<(f32, f32)>,
}

impl Field {
    pub fn zero() -> Field {
        Field { cols: 1, rows: 1, cell_w: 1.0, cell_h: 1.0, shifts: vec![(0.0, 0.0)] }
    }

    /// The shift at (x, y): bilinear between block centres, and carried on in the same
    /// slope past the outer centres to the edge (half a block), where a lens bends most.
    pub fn at(&self, x: f32, y: f32) -> (f32, f32) {
        let axis = |p: f32, cell: f32, n: usize| -> (usize, usize, f32) {
            if n == 1 {
                return (0, 0, 0.0);
            }
            let g = (p / cell - 0.5).clamp(-0.5, n as f32 - 0.5);
            let i = (g.floor().max(0.0) as usize).min(n - 2);
            (i, i + 1, g - i as f32)
        };
        let (ix, jx, fx) = axis(x, self.cell_w, self.cols);
        let (iy, jy, fy) = axis(y, self.cell_h, self.rows);
        let s = |c: usize, r: usize| self.shifts[r * self.cols + c];
        let mix = |a: (f32, f32), b: (f32, f32), f: f32| (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
        mix(mix(s(ix, iy), s(jx, iy), fx), mix(s(ix, jy), s(jx, jy), fx), fy)
    }

    /// The largest shift anywhere, in pixels.
    pub fn largest(&self) -> f32 {
        self.shifts.iter().map(|(x, y)| x.hypot(*y)).fold(0.0, f32::max)
    }
}

/// The field that best lines `aligned` (the photo after the similarity, `valid` where it
/// covers) up with `reference`, block by block.
pub fn field(reference: &Gray, aligned: &Gray, valid: &[bool]) -> Field {
    let (w, h) = (reference.w, reference.h);
    let cell = (w.max(h) as f32 / GRID as f32).max(16.0);
    let (cols, rows) = (((w as f32 / cell).round() as usize).max(1), ((h as f32 / cell).round() as usize).max(1));
    let (cell_w, cell_h) = (w as f32 / cols as f32, h as f32 / rows as f32);
    let mut measured: Vec<Option<(f32, f32)>> = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        for c in 0..cols {
            let x0 = (c as f32 * cell_w) as i64;
            let y0 = (r as f32 * cell_h) as i64;
            let x1 = (((c + 1) as f32 * cell_w) as i64).min(w as i64);
            let y1 = (((r + 1) as f32 * cell_h) as i64).min(h as i64);
            measured.push(block_shift(reference, aligned, valid, (x0, y0, x1, y1)));
        }
    }
    // The shifts a lens and a slant make vary smoothly over the board: a cubic in (x, y)
    // for each axis, fitted by least squares, then again without the blocks it fits worst
    // (a defect can fool a block's match); the field is the fitted surface. (A block's own
    // shift is no better: one with a single strong line in it knows only the shift across
    // the line.) With too few blocks measured to fit, each keeps its own.
    let centres: Vec<(f32, f32)> = (0..rows * cols)
        .map(|i| (((i % cols) as f32 + 0.5) / cols as f32 - 0.5, ((i / cols) as f32 + 0.5) / rows as f32 - 0.5))
        .collect();
    let mut used: Vec<usize> = (0..measured.len()).filter(|i| measured[*i].is_some()).collect();
    let mut model = None;
    for round in 0..3 {
        let Some(fit) = fit_cubic(&used, &centres, &measured) else { break };
        model = Some(fit);
        if round == 2 {
            break;
        }
        // Keep the best-fitting 80 %.
        let error = |i: &usize| {
            let (mx, my) = fit.at(centres[*i]);
            measured[*i].map_or(f32::MAX, |(x, y)| (x - mx).hypot(y - my))
        };
        used.sort_by(|a, b| error(a).total_cmp(&error(b)));
        used.truncate((used.len() * 4).div_ceil(5).max(MIN_BLOCKS));
    }
    // Never more than was looked for: where few blocks could be measured (a plain part of
    // the board) a cubic may swing far, and a shift beyond the reach is none measured.
    let reach = REACH as f32;
    let shifts = (0..rows * cols)
        .map(|i| match model {
            Some(m) => m.at(centres[i]),
            None => measured[i].unwrap_or((0.0, 0.0)),
        })
        .map(|(x, y)| (x.clamp(-reach, reach), y.clamp(-reach, reach)))
        .collect();
    Field { cols, rows, cell_w, cell_h, shifts }
}

/// A cubic in the block centre's (x, y) (each −½…½) for each axis of the shift.
#[derive(Debug, Clone, Copy)]
struct Cubic([f32; TERMS], [f32; TERMS]);

const TERMS: usize = 10;
/// Fewer measured blocks than this and no surface is fitted (each keeps its own).
const MIN_BLOCKS: usize = 16;

fn terms((x, y): (f32, f32)) -> [f32; TERMS] {
    [1.0, x, y, x * x, x * y, y * y, x * x * x, x * x * y, x * y * y, y * y * y]
}

impl Cubic {
    fn at(&self, p: (f32, f32)) -> (f32, f32) {
        let t = terms(p);
        (t.iter().zip(&self.0).map(|(a, b)| a * b).sum(), t.iter().zip(&self.1).map(|(a, b)| a * b).sum())
    }
}

/// Least squares over the blocks `used`; `None` with too few or a degenerate spread.
fn fit_cubic(used: &[usize], centres: &[(f32, f32)], measured: &[Option<(f32, f32)>]) -> Option<Cubic> {
    if used.len() < MIN_BLOCKS {
        return None;
    }
    let mut normal = [[0.0f64; TERMS]; TERMS];
    let (mut bx, mut by) = ([0.0f64; TERMS], [0.0f64; TERMS]);
    for &i in used {
        let (dx, dy) = measured[i]?;
        let t = terms(centres[i]).map(f64::from);
        for r in 0..TERMS {
            for c in 0..TERMS {
                normal[r][c] += t[r] * t[c];
            }
            bx[r] += t[r] * f64::from(dx);
            by[r] += t[r] * f64::from(dy);
        }
    }
    Some(Cubic(solve(normal, bx)?, solve(normal, by)?))
}

/// Gaussian elimination with partial pivoting; `None` if the system is singular.
fn solve(mut a: [[f64; TERMS]; TERMS], mut b: [f64; TERMS]) -> Option<[f32; TERMS]> {
    for col in 0..TERMS {
        let pivot = (col..TERMS).max_by(|p, q| a[*p][col].abs().total_cmp(&a[*q][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..TERMS {
            let f = a[row][col] / pivot_row[col];
            for (v, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; TERMS];
    for row in (0..TERMS).rev() {
        let rest: f64 = (row + 1..TERMS).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x.map(|v| v as f32))
}

/// The shift (within ±[`REACH`]) at which the block of `reference` correlates best with
/// `aligned`, to a fraction of a pixel; `None` for a block without texture enough to tell,
/// not wholly covered, or without a clear best.
fn block_shift(
    reference: &Gray,
    aligned: &Gray,
    valid: &[bool],
    (x0, y0, x1, y1): (i64, i64, i64, i64),
) -> Option<(f32, f32)> {
    let w = reference.w as i64;
    let h = reference.h as i64;
    // The block shrunk by the reach, so that every shifted pixel stays inside the image.
    let (bx0, by0) = ((x0).max(REACH), (y0).max(REACH));
    let (bx1, by1) = ((x1).min(w - REACH), (y1).min(h - REACH));
    if bx1 - bx0 < 8 || by1 - by0 < 8 {
        return None;
    }
    let mut ref_px = Vec::with_capacity(((bx1 - bx0) * (by1 - by0)) as usize);
    for y in by0..by1 {
        for x in bx0..bx1 {
            ref_px.push(reference.px[(y * w + x) as usize]);
        }
    }
    let n = ref_px.len() as f32;
    let mean = ref_px.iter().sum::<f32>() / n;
    let spread = (ref_px.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
    if spread < MIN_SPREAD {
        return None;
    }
    let side = (2 * REACH + 1) as usize;
    let mut scores = vec![f32::MIN; side * side];
    for dy in -REACH..=REACH {
        for dx in -REACH..=REACH {
            let (mut sum, mut sum_sq, mut cross) = (0.0f32, 0.0f32, 0.0f32);
            let mut k = 0;
            let mut covered = true;
            'rows: for y in by0..by1 {
                let row = ((y + dy) * w) as usize;
                for x in bx0..bx1 {
                    let j = row + (x + dx) as usize;
                    if !valid[j] {
                        covered = false;
                        break 'rows;
                    }
                    let a = aligned.px[j];
                    sum += a;
                    sum_sq += a * a;
                    cross += a * (ref_px[k] - mean);
                    k += 1;
                }
            }
            if !covered {
                return None;
            }
            let variance = (sum_sq - sum * sum / n).max(0.0);
            if variance > 1e-9 {
                scores[((dy + REACH) as usize) * side + (dx + REACH) as usize] =
                    cross / (variance.sqrt() * spread * n.sqrt());
            }
        }
    }
    let best = (0..scores.len()).max_by(|a, b| scores[*a].total_cmp(&scores[*b]))?;
    if scores[best] < MIN_MATCH {
        return None;
    }
    let (bx, by) = ((best % side) as i64, (best / side) as i64);
    // A parabola through the best and its neighbours, on each axis, for the fraction.
    let at = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= side as i64 || y >= side as i64 {
            None
        } else {
            Some(scores[y as usize * side + x as usize]).filter(|s| *s > f32::MIN)
        }
    };
    let fraction = |before: Option<f32>, centre: f32, after: Option<f32>| match (before, after) {
        (Some(b), Some(a)) => {
            let curve = b - 2.0 * centre + a;
            if curve < -1e-6 {
                (0.5 * (b - a) / curve).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    let c = scores[best];
    let fx = fraction(at(bx - 1, by), c, at(bx + 1, by));
    let fy = fraction(at(bx, by - 1), c, at(bx, by + 1));
    Some(((bx - REACH) as f32 + fx, (by - REACH) as f32 + fy))
}

#[cfg(test)]
mod tests {
    use super::field;
    use crate::vision::Gray;

    /// Value noise: random greys on a 5-pixel lattice, bilinear between (texture with no
    /// period for a block to mistake).
    fn texture(w: usize, h: usize) -> Gray {
        let lattice = |i: usize, j: usize| {
            let mut v = (i as u32).wrapping_mul(73_856_093) ^ (j as u32).wrapping_mul(19_349_663);
            v = v.wrapping_mul(0x9E37_79B1) ^ (v >> 15);
            (v % 1000) as f32 / 1000.0
        };
        let mut px = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (gx, gy) = (x as f32 / 5.0, y as f32 / 5.0);
                let (i, j) = (gx as usize, gy as usize);
                let (fx, fy) = (gx - i as f32, gy - j as f32);
                let top = lattice(i, j) * (1.0 - fx) + lattice(i + 1, j) * fx;
                let bottom = lattice(i, j + 1) * (1.0 - fx) + lattice(i + 1, j + 1) * fx;
                px[y * w + x] = top * (1.0 - fy) + bottom * fy;
            }
        }
        Gray { w, h, px }
    }

    #[test]
    fn a_smooth_bend_is_measured_to_a_fraction_of_a_pixel_and_a_blotch_does_not_bend_it() {
        let (w, h) = (320, 240);
        let reference = texture(w, h);
        let bend = |x: f32, y: f32| (2.0 * x / w as f32 - 1.0, 1.5 - 3.0 * (y / h as f32).powi(2));
        let mut photo = Gray { w, h, px: vec![0.5; w * h] };
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = bend(x as f32, y as f32);
                let (sx, sy) = (x as f32 - dx, y as f32 - dy);
                if sx >= 0.0 && sy >= 0.0 && sx <= (w - 1) as f32 && sy <= (h - 1) as f32 {
                    photo.px[y * w + x] = reference.sample(sx, sy);
                }
            }
        }
        // A defect: a flat blotch over most of one block.
        for y in 100..140 {
            for x in 150..190 {
                photo.px[y * w + x] = 0.9;
            }
        }
        let f = field(&reference, &photo, &vec![true; w * h]);
        for (x, y) in [(60.0, 60.0), (160.0, 120.0), (260.0, 180.0), (170.0, 110.0), (40.0, 200.0)] {
            let (want, got) = (bend(x, y), f.at(x, y));
            assert!(
                (want.0 - got.0).abs() < 0.35 && (want.1 - got.1).abs() < 0.35,
                "at ({x}, {y}): {got:?}, not {want:?}"
            );
        }
    }
}
