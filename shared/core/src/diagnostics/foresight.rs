//! The foresight engine (seed 000): which parts of a device will fail, how likely, how soon
//! — from the device's own scans over time (the slope of its counters) and published
//! failure statistics. One scan still predicts, with less confidence.
//!
//! Sources of the constants:
//! - Backblaze, "What SMART Stats Tell Us About Hard Drives" (A. Klein, 2016-10-06): the
//!   share of failed and of working drives whose raw value of SMART 5, 187, 197 and 198 is
//!   above zero ([`PREDICTORS`]); SMART 188 separated failed from working drives too weakly
//!   to be used. Backblaze's yearly drive stats put the annualised failure rate of a drive
//!   near 1.5–2 % ([`BASE_YEARLY_FAILURE`]).
//! - Pinheiro, Weber, Barroso, "Failure Trends in a Large Disk Drive Population" (Google,
//!   FAST 2007): failure rates rise for drives kept above 45 °C in their third year and
//!   later ([`HOT_DRIVE_C`]).
//! - NVMe Base Specification, SMART / Health log: `percentage_used` reaches 100 at the
//!   drive's rated endurance.
//! - Laptop makers' battery warranties: a battery is worn below 80 % of its design capacity.

use serde::{Deserialize, Serialize};

/// A drive's yearly failure rate with nothing known about it.
const BASE_YEARLY_FAILURE: f64 = 0.02;

/// (counter, share of failed drives with it above zero, share of working drives).
const PREDICTORS: &[(&str, f64, f64)] = &[
    ("reallocated_sectors", 0.422, 0.011),
    ("reported_uncorrectable", 0.435, 0.005),
    ("pending_sectors", 0.431, 0.007),
    ("offline_uncorrectable", 0.330, 0.003),
];

/// Above this mean temperature a drive fails more often (Pinheiro et al.).
const HOT_DRIVE_C: f64 = 45.0;

/// What one scan measured, when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Unix seconds.
    pub at: i64,
    pub counters: Vec<(String, i64)>,
    pub drive_temperature_c: Option<f64>,
    /// Full-charge capacity over design capacity, in %.
    pub battery_health: Option<f64>,
}

impl Observation {
    fn counter(&self, name: &str) -> Option<i64> {
        self.counters.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub component: String,
    pub failure_probability: f64,
    pub timeline_days: u32,
    pub confidence: f64,
    pub recommendation: String,
    pub urgency: String,
    /// What the prediction rests on.
    pub basis: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub predictions: Vec<Prediction>,
    pub overall_risk_score: u32,
    /// `YYYY-MM-DD`.
    pub next_scan_recommended: String,
    pub scans_considered: usize,
}

/// The slope per day of `value` over the observations that have it (least squares), if
/// at least two do and they span some time.
fn slope_per_day(history: &[Observation], value: impl Fn(&Observation) -> Option<f64>) -> Option<f64> {
    let points: Vec<(f64, f64)> =
        history.iter().filter_map(|o| value(o).map(|v| (o.at as f64 / 86_400.0, v))).collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx < 1e-9 {
        return None;
    }
    Some(points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx)
}

fn urgency(p: f64, days: u32) -> &'static str {
    if p >= 0.6 || days <= 14 {
        "high"
    } else if p >= 0.3 || days <= 60 {
        "medium"
    } else {
        "low"
    }
}

fn confidence(scans: usize) -> f64 {
    (0.5 + 0.1 * (scans.saturating_sub(1)) as f64).min(0.9)
}

/// Forecasts from `history` (oldest first; at least one scan) at `now` (unix seconds).
pub fn forecast(history: &[Observation], now: i64) -> Forecast {
    let mut predictions = Vec::new();
    if let Some(last) = history.last() {
        if let Some(p) = storage(history, last) {
            predictions.push(p);
        }
        if let Some(p) = wear(history, last) {
            predictions.push(p);
        }
        if let Some(p) = battery(history, last) {
            predictions.push(p);
        }
    }
    let survive: f64 = predictions.iter().map(|p| 1.0 - p.failure_probability).product();
    let overall_risk_score = (100.0 * (1.0 - survive)).round().clamp(0.0, 100.0) as u32;
    let days_to_next = match predictions.iter().map(|p| p.urgency.as_str()).max_by_key(|u| match *u {
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }) {
        Some("high") => 1,
        Some("medium") => 7,
        _ => 30,
    };
    let next = chrono::DateTime::from_timestamp(now + days_to_next * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Forecast { predictions, overall_risk_score, next_scan_recommended: next, scans_considered: history.len() }
}

/// A drive's failure within the year, by Bayes from the Backblaze shares of the counters
/// above zero, sooner when they grow, a little likelier when it runs hot.
fn storage(history: &[Observation], last: &Observation) -> Option<Prediction> {
    let mut basis = Vec::new();
    let mut survive = 1.0;
    for (name, failed, working) in PREDICTORS {
        let Some(v) = last.counter(name).filter(|v| *v > 0) else { continue };
        let p = failed * BASE_YEARLY_FAILURE / (failed * BASE_YEARLY_FAILURE + working * (1.0 - BASE_YEARLY_FAILURE));
        survive *= 1.0 - p;
        basis.push(format!("{name} = {v}: {:.0} % of drives like it fail within a year (Backblaze)", 100.0 * p));
    }
    let media = last.counter("media_errors").unwrap_or(0);
    if media > 0 {
        // NVMe media errors have no published fleet statistics: counted like an
        // uncorrectable read, the closest ATA counter.
        let (failed, working) = (0.435, 0.005);
        let p = failed * BASE_YEARLY_FAILURE / (failed * BASE_YEARLY_FAILURE + working * (1.0 - BASE_YEARLY_FAILURE));
        survive *= 1.0 - p;
        basis.push(format!("media_errors = {media}, taken like SMART 187"));
    }
    if last.counter("critical_warning").unwrap_or(0) != 0 {
        survive *= 0.1;
        basis.push("the NVMe controller raises a critical warning".into());
    }
    if basis.is_empty() {
        return None;
    }
    let mut p = 1.0 - survive;
    let mut days: f64 = 365.0 * (1.0 - p).max(0.1);
    // Growth: a counter that keeps rising is a drive failing now.
    for name in ["reallocated_sectors", "pending_sectors", "media_errors", "offline_uncorrectable"] {
        if let Some(rate) = slope_per_day(history, |o| o.counter(name).map(|v| v as f64)).filter(|r| *r > 0.0) {
            p = (p * 1.5).min(0.95);
            days = days.min((14.0 / rate.max(0.05)).clamp(3.0, 90.0));
            basis.push(format!("{name} grows by {rate:.2} a day"));
        }
    }
    let temps: Vec<f64> = history.iter().filter_map(|o| o.drive_temperature_c).collect();
    if !temps.is_empty() {
        let mean = temps.iter().sum::<f64>() / temps.len() as f64;
        if mean > HOT_DRIVE_C {
            p = (p * 1.1).min(0.95);
            basis.push(format!("runs at {mean:.0} °C on average (above {HOT_DRIVE_C} °C: Pinheiro et al.)"));
        }
    }
    let timeline_days = days.round() as u32;
    let urgency = urgency(p, timeline_days);
    Some(Prediction {
        component: "storage".into(),
        failure_probability: (p * 100.0).round() / 100.0,
        timeline_days,
        confidence: confidence(history.len()),
        recommendation: if urgency == "high" {
            format!("Backup immediately. Replace within {} days.", timeline_days.min(14))
        } else {
            "Keep backups current and scan again soon.".into()
        },
        urgency: urgency.into(),
        basis,
    })
}

/// An SSD reaching its rated endurance (`percentage_used` 100).
fn wear(history: &[Observation], last: &Observation) -> Option<Prediction> {
    let used = last.counter("percentage_used")? as f64;
    let rate = slope_per_day(history, |o| o.counter("percentage_used").map(|v| v as f64)).filter(|r| *r > 0.0);
    let days = match rate {
        Some(r) => ((100.0 - used).max(0.0) / r).round(),
        None if used >= 90.0 => 180.0,
        None => return None,
    };
    if days > 3650.0 {
        return None;
    }
    let timeline_days = days as u32;
    let p: f64 = if used >= 100.0 { 0.8 } else { (used / 100.0).powi(4).clamp(0.05, 0.8) };
    Some(Prediction {
        component: "ssd_endurance".into(),
        failure_probability: (p * 100.0).round() / 100.0,
        timeline_days,
        confidence: confidence(history.len()),
        recommendation: format!(
            "The SSD reaches its rated endurance in about {timeline_days} days: plan a replacement."
        ),
        urgency: urgency(p, timeline_days).into(),
        basis: vec![match rate {
            Some(r) => format!("percentage_used {used:.0}, rising {r:.3} a day"),
            None => format!("percentage_used {used:.0}"),
        }],
    })
}

/// A battery falling below 80 % of its design capacity.
fn battery(history: &[Observation], last: &Observation) -> Option<Prediction> {
    let health = last.battery_health?;
    let rate = slope_per_day(history, |o| o.battery_health).filter(|r| *r < 0.0);
    let days = if health < 80.0 {
        0.0
    } else {
        match rate {
            Some(r) => ((health - 80.0) / -r).round(),
            None => return None,
        }
    };
    if days > 1825.0 {
        return None;
    }
    let timeline_days = days as u32;
    let p: f64 = if health < 60.0 {
        0.9
    } else if health < 80.0 {
        0.6
    } else {
        0.3
    };
    Some(Prediction {
        component: "battery".into(),
        failure_probability: p,
        timeline_days,
        confidence: confidence(history.len()),
        recommendation: if health < 80.0 {
            "Replace the battery.".into()
        } else {
            format!("The battery wears below 80 % in about {timeline_days} days.")
        },
        urgency: urgency(p, timeline_days).into(),
        basis: vec![format!("battery at {health:.0} % of its design capacity")],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_795_000_000;

    fn scan(days_ago: i64, counters: &[(&str, i64)]) -> Observation {
        Observation {
            at: NOW - days_ago * DAY,
            counters: counters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn a_clean_drive_predicts_nothing_and_waits_a_month() {
        let f = forecast(&[scan(0, &[("reallocated_sectors", 0), ("pending_sectors", 0)])], NOW);
        assert!(f.predictions.is_empty());
        assert_eq!(f.overall_risk_score, 0);
        assert_eq!(f.next_scan_recommended, "2026-12-18");
    }

    #[test]
    fn one_scan_with_pending_sectors_predicts_with_less_confidence() {
        let f = forecast(&[scan(0, &[("pending_sectors", 8)])], NOW);
        let p = &f.predictions[0];
        assert_eq!(p.component, "storage");
        // 0.431 × 0.02 / (0.431 × 0.02 + 0.007 × 0.98) ≈ 0.56
        assert!((p.failure_probability - 0.56).abs() < 0.01, "{}", p.failure_probability);
        assert_eq!(p.confidence, 0.5);
        assert_eq!(f.overall_risk_score, 56);
    }

    #[test]
    fn growing_reallocations_bring_the_failure_closer_and_raise_confidence() {
        let history = [
            scan(30, &[("reallocated_sectors", 10)]),
            scan(15, &[("reallocated_sectors", 40)]),
            scan(0, &[("reallocated_sectors", 70)]),
        ];
        let f = forecast(&history, NOW);
        let p = &f.predictions[0];
        assert!(p.failure_probability > 0.6, "{}", p.failure_probability);
        assert!(p.timeline_days <= 14, "{}", p.timeline_days);
        assert_eq!(p.urgency, "high");
        assert!((p.confidence - 0.7).abs() < 1e-9);
        assert!(p.basis.iter().any(|b| b.contains("grows by 2.00 a day")), "{:?}", p.basis);
        assert_eq!(f.next_scan_recommended, "2026-11-19");
        assert!(p.recommendation.starts_with("Backup immediately"));
    }

    #[test]
    fn ssd_wear_is_projected_to_its_rated_endurance() {
        let history = [scan(100, &[("percentage_used", 80)]), scan(0, &[("percentage_used", 90)])];
        let f = forecast(&history, NOW);
        let p = f.predictions.iter().find(|p| p.component == "ssd_endurance").cloned();
        assert_eq!(p.map(|p| p.timeline_days), Some(100));
    }

    #[test]
    fn a_battery_losing_capacity_is_dated() {
        let mut a = scan(200, &[]);
        a.battery_health = Some(95.0);
        let mut b = scan(0, &[]);
        b.battery_health = Some(85.0);
        let f = forecast(&[a, b], NOW);
        let p = &f.predictions[0];
        assert_eq!(p.component, "battery");
        assert_eq!(p.timeline_days, 100);
    }
}
