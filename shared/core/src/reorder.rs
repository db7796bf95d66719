//! Reorder points from consumption history (issue 16), for parts whose demand is
//! intermittent — most days nothing, now and then a few.
//!
//! The method is **SBA**, the Syntetos–Boylan approximation of Croston's method:
//! J. D. Croston, "Forecasting and stock control for intermittent demands", *Operational
//! Research Quarterly* 23(3), 289–303 (1972) — smooth the size of the non-zero demands and
//! the interval between them separately, forecast size / interval per day; and
//! A. A. Syntetos and J. E. Boylan, "The accuracy of intermittent demand estimates",
//! *International Journal of Forecasting* 21(2), 303–314 (2005) — Croston's ratio is biased
//! upwards; multiplying it by (1 − α/2) removes most of the bias.
//!
//! The reorder point covers the forecast demand over the supplier's lead time plus safety
//! stock for the service level: z · σ · √L, σ being the root mean square of the one-day-ahead
//! forecast errors over the history. The order quantity covers the review period (30 days)
//! or the lead time, whichever is longer.

use serde::Serialize;

/// The smoothing constant for both size and interval: Syntetos and Boylan's range is
/// 0.05–0.2; 0.1 is the usual choice for daily data.
pub const ALPHA: f64 = 0.1;
/// z for a 95 % cycle service level.
pub const Z_95: f64 = 1.645;
/// Days an order is meant to last.
pub const REVIEW_DAYS: i64 = 30;

/// A forecast and what it means for reordering.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub method: &'static str,
    pub alpha: f64,
    pub history_days: usize,
    /// Days with any consumption.
    pub demand_days: usize,
    pub consumed: i64,
    /// Forecast units a day.
    pub rate_per_day: f64,
    pub lead_time_days: i64,
    pub service_level: f64,
    pub safety_stock: i64,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
}

/// Days of history a plan reads.
pub const HISTORY_DAYS: usize = 180;

fn first_day(today: &str, days: usize) -> Option<chrono::NaiveDate> {
    let end = chrono::NaiveDate::parse_from_str(today.get(..10)?, "%Y-%m-%d").ok()?;
    Some(end - chrono::Duration::days(i64::try_from(days).ok()?.max(1) - 1))
}

/// The first day (`YYYY-MM-DD`) of the `days` days ending `today`.
pub fn window_start(today: &str, days: usize) -> Option<String> {
    first_day(today, days).map(|d| d.format("%Y-%m-%d").to_string())
}

/// Units used per day over the `days` days ending `today` (`YYYY-MM-DD`), oldest first,
/// from `(day, units)` sums; days outside the window are ignored. `None` for a bad date.
pub fn daily(used: &[(String, i64)], today: &str, days: usize) -> Option<Vec<i64>> {
    let start = first_day(today, days)?;
    let mut out = vec![0; days];
    for (day, units) in used {
        let Some(d) = day.get(..10).and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else {
            continue;
        };
        if let Ok(i) = usize::try_from((d - start).num_days()) {
            if let Some(slot) = out.get_mut(i) {
                *slot += units.max(&0);
            }
        }
    }
    Some(out)
}

/// SBA's per-day forecast after each day of `daily` (oldest first): `None` until the first
/// demand.
pub fn sba(daily: &[i64], alpha: f64) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(daily.len());
    let (mut size, mut interval) = (None::<f64>, None::<f64>);
    let mut since = 0.0;
    for &d in daily {
        since += 1.0;
        if d > 0 {
            let q = d as f64;
            match (size, interval) {
                (Some(z), Some(p)) => {
                    size = Some(z + alpha * (q - z));
                    interval = Some(p + alpha * (since - p));
                }
                _ => {
                    size = Some(q);
                    interval = Some(since);
                }
            }
            since = 0.0;
        }
        out.push(match (size, interval) {
            (Some(z), Some(p)) if p > 0.0 => Some((1.0 - alpha / 2.0) * z / p),
            _ => None,
        });
    }
    out
}

/// The reorder plan for a part consumed `daily` (units per day, oldest first) and bought
/// with `lead_time_days` of lead time.
pub fn plan(daily: &[i64], lead_time_days: i64) -> Plan {
    let forecasts = sba(daily, ALPHA);
    let rate = forecasts.last().copied().flatten().unwrap_or(0.0);
    // One-day-ahead errors: the forecast made after day t against day t + 1.
    let errors: Vec<f64> =
        forecasts.iter().zip(daily.iter().skip(1)).filter_map(|(f, &actual)| f.map(|f| actual as f64 - f)).collect();
    let sigma =
        if errors.is_empty() { 0.0 } else { (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt() };
    let lead = lead_time_days.max(0);
    let lead_f = lead as f64;
    let safety = if rate > 0.0 { (Z_95 * sigma * lead_f.sqrt()).ceil() as i64 } else { 0 };
    let reorder_point = if rate > 0.0 { (rate * lead_f).ceil() as i64 + safety } else { 0 };
    let reorder_quantity = if rate > 0.0 { ((rate * REVIEW_DAYS.max(lead) as f64).ceil() as i64).max(1) } else { 0 };
    Plan {
        method: "SBA (Syntetos–Boylan approximation of Croston's method)",
        alpha: ALPHA,
        history_days: daily.len(),
        demand_days: daily.iter().filter(|d| **d > 0).count(),
        consumed: daily.iter().filter(|d| **d > 0).sum(),
        rate_per_day: (rate * 10_000.0).round() / 10_000.0,
        lead_time_days: lead,
        service_level: 0.95,
        safety_stock: safety,
        reorder_point,
        reorder_quantity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn croston_smooths_size_and_interval_and_sba_corrects_its_bias() {
        // Demands of 4 every 10 days: size 4, interval 10 → Croston 0.4 a day, SBA 0.38.
        let mut daily = vec![0; 100];
        for d in (9..100).step_by(10) {
            daily[d] = 4;
        }
        let f = sba(&daily, ALPHA);
        assert_eq!(f[8], None, "nothing is forecast before the first demand");
        let last = f.last().copied().flatten().unwrap_or_default();
        assert!((last - 0.38).abs() < 1e-9, "{last}");
        // A change in size moves the forecast by alpha of the difference.
        daily.push(14);
        let moved = sba(&daily, ALPHA).last().copied().flatten().unwrap_or_default();
        let expected = 0.95 * (4.0 + 0.1 * 10.0) / (10.0 + 0.1 * (1.0 - 10.0));
        assert!((moved - expected).abs() < 1e-9, "{moved} vs {expected}");
    }

    #[test]
    fn the_reorder_point_covers_the_lead_time_and_a_safety_stock() {
        let mut daily = vec![0; 180];
        for (i, d) in daily.iter_mut().enumerate() {
            if i % 6 == 5 {
                *d = if i % 12 == 5 { 3 } else { 1 };
            }
        }
        let p = plan(&daily, 7);
        assert_eq!((p.demand_days, p.consumed), (30, 60));
        // About 2 units every 6 days: 0.32 a day after SBA's correction.
        assert!((p.rate_per_day - 0.3167).abs() < 0.01, "{p:?}");
        assert!(p.safety_stock >= 1, "{p:?}");
        assert_eq!(p.reorder_point, (p.rate_per_day * 7.0).ceil() as i64 + p.safety_stock);
        assert_eq!(p.reorder_quantity, (p.rate_per_day * 30.0).ceil() as i64);
        // A longer lead time raises both.
        let slow = plan(&daily, 30);
        assert!(slow.reorder_point > p.reorder_point && slow.safety_stock > p.safety_stock);
    }

    #[test]
    fn the_ledger_s_days_become_a_series_ending_today() {
        let used = vec![("2026-12-04".to_owned(), 2), ("2026-12-01".to_owned(), 1), ("2026-05-01".to_owned(), 9)];
        assert_eq!(daily(&used, "2026-12-04T10:00:00Z", 5), Some(vec![0, 1, 0, 0, 2]));
        assert_eq!(daily(&used, "yesterday", 5), None);
        assert_eq!(window_start("2026-12-04T10:00:00Z", 5).as_deref(), Some("2026-11-30"));
    }

    #[test]
    fn a_part_never_used_is_not_reordered() {
        let p = plan(&[0; 90], 7);
        assert_eq!((p.rate_per_day, p.reorder_point, p.reorder_quantity, p.safety_stock), (0.0, 0, 0, 0));
        assert_eq!(plan(&[], 7).history_days, 0);
    }
}
