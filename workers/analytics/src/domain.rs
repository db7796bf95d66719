//! Pure logic of the analytics worker: report periods and groupings, the trend forecast
//! and CSV. No `worker`, no kit: unit-tested natively with `cargo test -p noizylab-analytics`.

use noizylab_core::events::{
    DiagnosticsComplete, Envelope, PaymentSucceeded, QcFailed, QcPassed, QuoteApproved, QuoteDeclined, QuoteIssued,
    TicketCreated, TicketMessageAdded, TicketStatusChanged,
};
use serde::Serialize;

/// How a report buckets time. Each is an SQLite `strftime` format over an RFC 3339 time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: Option<&str>) -> Result<Period, String> {
        match s.unwrap_or("day") {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            other => Err(format!("period must be day, week or month, not {other:?}")),
        }
    }

    /// The bucket expression for `strftime`: days as `2026-12-04`, ISO-like weeks as
    /// `2026-W48` (weeks start on Monday), months as `2026-12`.
    pub fn format(self) -> &'static str {
        match self {
            Period::Day => "%Y-%m-%d",
            Period::Week => "%Y-W%W",
            Period::Month => "%Y-%m",
        }
    }
}

/// What a revenue report is broken down by, besides its period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    None,
    DeviceType,
    Service,
    Technician,
}

impl Grouping {
    pub fn parse(s: Option<&str>) -> Result<Grouping, String> {
        match s.unwrap_or("none") {
            "none" => Ok(Grouping::None),
            "device_type" => Ok(Grouping::DeviceType),
            "service" => Ok(Grouping::Service),
            "technician" => Ok(Grouping::Technician),
            other => Err(format!("group_by must be none, device_type, service or technician, not {other:?}")),
        }
    }

    /// The fact column grouped on (a constant, never user text).
    pub fn column(self) -> &'static str {
        match self {
            Grouping::None => "''",
            Grouping::DeviceType => "COALESCE(device_type, 'unknown')",
            Grouping::Service => "COALESCE(service, 'unknown')",
            Grouping::Technician => "COALESCE(technician_id, 'unassigned')",
        }
    }
}

/// A report's window: `from` inclusive, `to` exclusive, both `YYYY-MM-DD` (UTC days) or
/// full RFC 3339 times. Compared as text with the facts' RFC 3339 times, which sort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: String,
    pub to: String,
}

impl Window {
    /// `from`/`to` as given, or the 30 days up to `today` (`YYYY-MM-DD`) inclusive.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: &str) -> Result<Window, String> {
        let from = match from {
            Some(f) => bound(f, "from")?,
            None => days_before(today, 29).ok_or("today is not a date")?,
        };
        let to = match to {
            Some(t) => bound(t, "to")?,
            None => days_before(today, -1).ok_or("today is not a date")?,
        };
        if from >= to {
            return Err(format!("from ({from}) must be before to ({to})"));
        }
        Ok(Window { from, to })
    }
}

fn bound(s: &str, name: &str) -> Result<String, String> {
    let date_ok = s.get(..10).and_then(civil).is_some();
    let rest_ok = s.len() == 10 || (s.as_bytes().get(10) == Some(&b'T') && s.len() <= 35);
    if date_ok && rest_ok && s.is_ascii() {
        Ok(s.to_owned())
    } else {
        Err(format!("{name} must be a date (2026-12-04) or an RFC 3339 time, not {s:?}"))
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (proleptic Gregorian).
pub fn civil(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = date[..4].parse().ok()?;
    let m: i64 = date[5..7].parse().ok()?;
    let d: i64 = date[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (date_of(days) == date).then_some(days)
}

/// The `YYYY-MM-DD` of a day number (inverse of [`civil`]).
pub fn date_of(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn days_before(date: &str, n: i64) -> Option<String> {
    civil(date).map(|d| date_of(d - n))
}

/// One forecast day: the point forecast and its 95% prediction interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForecastPoint {
    pub date: String,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The method, as the API names it.
pub const FORECAST_METHOD: &str = "ordinary least squares on daily totals: a linear trend plus an additive \
     day-of-week effect (weekly seasonality); 95% prediction intervals from the residual variance \
     (t quantile, widening with distance from the history's centre)";

/// Forecasts `horizon` days after a daily history starting at day number `first_day`.
///
/// The model is `y_t = a + b·t + s_{weekday(t)} + e_t` with the seven weekday effects summing
/// to zero, fitted by least squares (backfitting the trend and the weekday effects until they
/// settle). The interval is
/// `ŷ ± t₀.₉₇₅,ν · σ̂ · √(1 + 1/n + (t − t̄)²/Sₜₜ + 1/m_w)`, where `m_w` is how many days of that
/// weekday the history had and `ν = n − 8`. At least 14 days are needed; values below zero
/// are clamped at zero (counts and money do not go negative).
pub fn forecast(history: &[f64], first_day: i64, horizon: usize) -> Result<Vec<ForecastPoint>, String> {
    let n = history.len();
    if n < 14 {
        return Err(format!("a forecast needs at least 14 days of history; the window has {n}"));
    }
    let weekday = |day: i64| (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday: Monday = 0
    let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let t_mean = t.iter().sum::<f64>() / n as f64;
    let fit = |ys: &[f64]| {
        let y_mean = ys.iter().sum::<f64>() / n as f64;
        let sxy: f64 = t.iter().zip(ys).map(|(ti, yi)| (ti - t_mean) * (yi - y_mean)).sum();
        let sxx: f64 = t.iter().map(|ti| (ti - t_mean).powi(2)).sum();
        let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        (y_mean - b * t_mean, b, sxx)
    };
    // Backfitting: the trend on the series less the weekday effects, the effects on what the
    // trend leaves, until neither moves; it converges to the joint least-squares fit.
    let mut season = [0.0f64; 7];
    let mut counts = [0usize; 7];
    for i in 0..n {
        counts[weekday(first_day + i as i64)] += 1;
    }
    let (mut a, mut b, mut sxx) = (0.0, 0.0, 0.0);
    for _ in 0..200 {
        let deseasoned: Vec<f64> =
            history.iter().enumerate().map(|(i, y)| y - season[weekday(first_day + i as i64)]).collect();
        (a, b, sxx) = fit(&deseasoned);
        let mut sums = [0.0f64; 7];
        for (i, y) in history.iter().enumerate() {
            sums[weekday(first_day + i as i64)] += y - (a + b * i as f64);
        }
        let mut next = [0.0f64; 7];
        for w in 0..7 {
            next[w] = if counts[w] > 0 { sums[w] / counts[w] as f64 } else { 0.0 };
        }
        let centre = next.iter().sum::<f64>() / 7.0;
        let mut moved = 0.0f64;
        for w in 0..7 {
            next[w] -= centre;
            moved = moved.max((next[w] - season[w]).abs());
        }
        season = next;
        if moved < 1e-9 {
            break;
        }
    }
    let residual_ss: f64 = history
        .iter()
        .enumerate()
        .map(|(i, y)| (y - (a + b * i as f64 + season[weekday(first_day + i as i64)])).powi(2))
        .sum();
    let dof = n - 8;
    let sigma = (residual_ss / dof as f64).sqrt();
    let q = t_quantile_975(dof);
    Ok((0..horizon)
        .map(|h| {
            let ti = (n + h) as f64;
            let day = first_day + (n + h) as i64;
            let w = weekday(day);
            let value = a + b * ti + season[w];
            let spread = 1.0 + 1.0 / n as f64 + (ti - t_mean).powi(2) / sxx + 1.0 / counts[w].max(1) as f64;
            let half = q * sigma * spread.sqrt();
            ForecastPoint {
                date: date_of(day),
                value: round2(value.max(0.0)),
                lower: round2((value - half).max(0.0)),
                upper: round2((value + half).max(0.0)),
            }
        })
        .collect())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Student's t 97.5% quantile for `dof` degrees of freedom (table to 30, then the normal
/// approximation with Cornish–Fisher's first correction).
fn t_quantile_975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match dof {
        0 => f64::INFINITY,
        1..=30 => TABLE[dof - 1],
        _ => {
            let z: f64 = 1.959_964;
            z + (z.powi(3) + z) / (4.0 * dof as f64)
        }
    }
}

/// A CSV document from a header and rows (RFC 4180 quoting by the `csv` crate).
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| e.to_string())?;
    for row in rows {
        w.write_record(row).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// `numerator / denominator` rounded to four places, or `None` when nothing was measured.
pub fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 / denominator as f64 * 10_000.0).round() / 10_000.0)
}

/// What one event says, as a fact.
#[derive(Default)]
pub struct Fact {
    pub kind: &'static str,
    pub actor: Option<String>,
    pub technician: Option<String>,
    pub stage: Option<String>,
    pub amount: Option<i64>,
    pub value: Option<i64>,
}

/// The fact an event makes, if a report counts it (`None` for the rest).
pub fn fact_of(e: &Envelope) -> Vec<Fact> {
    if let Some(p) = e.payload::<TicketCreated>() {
        return vec![Fact { kind: "opened", actor: Some(p.by), ..Fact::default() }];
    }
    if let Some(p) = e.payload::<TicketStatusChanged>() {
        let mut facts = vec![Fact { kind: "stage", actor: Some(p.by.clone()), stage: Some(p.from), ..Fact::default() }];
        if p.to == "READY" {
            facts.push(Fact { kind: "completed", actor: Some(p.by), ..Fact::default() });
        }
        return facts;
    }
    if let Some(p) = e.payload::<QuoteIssued>() {
        return vec![Fact { kind: "quote_issued", amount: Some(p.total), ..Fact::default() }];
    }
    if let Some(p) = e.payload::<QuoteApproved>() {
        return vec![Fact { kind: "quote_approved", actor: Some(p.by), amount: Some(p.total), ..Fact::default() }];
    }
    if let Some(p) = e.payload::<QuoteDeclined>() {
        return vec![Fact { kind: "quote_declined", actor: Some(p.by), amount: Some(p.total), ..Fact::default() }];
    }
    if let Some(p) = e.payload::<PaymentSucceeded>() {
        return vec![Fact { kind: "payment", actor: Some(p.customer_id), amount: Some(p.amount), ..Fact::default() }];
    }
    if let Some(p) = e.payload::<QcPassed>() {
        let value = Some(i64::from(p.attempt));
        return vec![Fact { kind: "qc_passed", technician: p.technician_id, value, ..Fact::default() }];
    }
    if let Some(p) = e.payload::<QcFailed>() {
        let value = Some(i64::from(p.attempt));
        return vec![Fact { kind: "qc_failed", technician: p.technician_id, value, ..Fact::default() }];
    }
    // A message to the customer written by someone else than the customer: staff answering.
    if let Some(p) = e.payload::<TicketMessageAdded>() {
        if p.visibility == "customer" && p.by != p.customer_id && p.via.is_none() {
            return vec![Fact { kind: "message_answered", actor: Some(p.by), ..Fact::default() }];
        }
        return Vec::new();
    }
    if let Some(p) = e.payload::<DiagnosticsComplete>() {
        return vec![Fact { kind: "scan", value: p.health_score, ..Fact::default() }];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(civil("1970-01-01"), Some(0));
        assert_eq!(civil("2026-12-04"), Some(20_791));
        assert_eq!(date_of(20_791), "2026-12-04");
        assert_eq!(civil("2024-02-29").map(date_of).as_deref(), Some("2024-02-29"));
        assert_eq!(civil("2026-02-29"), None, "not a leap year");
        assert_eq!(civil("2026-13-01"), None);
        assert_eq!(civil("yesterday!"), None);
    }

    #[test]
    fn a_window_defaults_to_thirty_days_and_refuses_nonsense() {
        let w = Window::parse(None, None, "2026-12-04").unwrap();
        assert_eq!(w, Window { from: "2026-11-05".into(), to: "2026-12-05".into() });
        assert!(Window::parse(Some("2026-12-05"), Some("2026-12-01"), "2026-12-04").is_err());
        assert!(Window::parse(Some("last week"), None, "2026-12-04").unwrap_err().contains("from must be a date"));
        assert!(Window::parse(Some("2026-12-01T00:00:00Z"), None, "2026-12-04").is_ok());
        // Not a date, whatever bytes it is made of (a slice inside a character must not panic).
        assert!(Window::parse(Some("eæ\u{7f}¢#Meçø\u{10d7df}"), None, "2026-12-04").is_err());
        assert!(Window::parse(None, Some("2026-12-0\u{e9}"), "2026-12-04").is_err());
    }

    #[test]
    fn groupings_and_periods_parse_only_what_they_name() {
        assert_eq!(Period::parse(None), Ok(Period::Day));
        assert_eq!(Period::parse(Some("week")).map(Period::format), Ok("%Y-W%W"));
        assert!(Period::parse(Some("year")).is_err());
        assert_eq!(Grouping::parse(Some("technician")), Ok(Grouping::Technician));
        assert!(Grouping::parse(Some("customer; DROP TABLE x")).is_err());
    }

    #[test]
    fn a_weekly_pattern_with_a_trend_is_recovered_exactly() {
        // Mondays 10 above the trend, Sundays 10 below, on 5 + 0.5·t, four whole weeks.
        let first = civil("2026-11-02").unwrap(); // a Monday
        let effect = [10.0, 0.0, 0.0, 0.0, 0.0, 0.0, -10.0];
        let history: Vec<f64> = (0..28).map(|i| 5.0 + 0.5 * i as f64 + effect[i % 7]).collect();
        let f = forecast(&history, first, 7).unwrap();
        assert_eq!(f[0].date, "2026-11-30");
        assert!((f[0].value - (5.0 + 0.5 * 28.0 + 10.0)).abs() < 1e-6, "{:?}", f[0]);
        assert!((f[6].value - (5.0 + 0.5 * 34.0 - 10.0)).abs() < 1e-6, "{:?}", f[6]);
        // A perfect fit leaves no residual: the interval collapses onto the point.
        assert!((f[0].upper - f[0].lower).abs() < 1e-6);
    }

    #[test]
    fn noise_widens_the_interval_and_it_grows_with_the_horizon() {
        let first = civil("2026-11-02").unwrap();
        let history: Vec<f64> = (0..42).map(|i| 20.0 + if i % 3 == 0 { 4.0 } else { -2.0 }).collect();
        let f = forecast(&history, first, 28).unwrap();
        for p in &f {
            assert!(p.lower <= p.value && p.value <= p.upper, "{p:?}");
        }
        let width = |p: &ForecastPoint| p.upper - p.lower;
        assert!(width(&f[0]) > 1.0);
        assert!(width(&f[27]) > width(&f[0]));
    }

    #[test]
    fn a_short_history_is_refused_with_the_reason() {
        let e = forecast(&[1.0; 10], 0, 7).unwrap_err();
        assert!(e.contains("at least 14 days"), "{e}");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let text = csv(&["a", "b"], &[vec!["x, y".into(), "say \"hi\"".into()]]).unwrap();
        assert_eq!(text, "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn rates_are_none_without_a_denominator() {
        assert_eq!(rate(1, 0), None);
        assert_eq!(rate(2, 3), Some(0.6667));
    }

    fn envelope(event: &str, data: serde_json::Value) -> Envelope {
        Envelope {
            id: "e1".into(),
            event: event.into(),
            timestamp: "2026-12-04T10:00:00.000Z".into(),
            workspace_id: Some("ws".into()),
            device_id: None,
            ticket_id: Some("t1".into()),
            data,
        }
    }

    #[test]
    fn reaching_ready_is_a_stage_left_and_a_completion() {
        let e = envelope(
            "ticket.status_changed",
            json!({"from": "QC", "to": "READY", "by": "u1", "customer_id": "c1", "number": 3}),
        );
        let kinds: Vec<_> = fact_of(&e).iter().map(|f| (f.kind, f.stage.clone())).collect();
        assert_eq!(kinds, vec![("stage", Some("QC".to_owned())), ("completed", None)]);
    }

    #[test]
    fn a_customer_writing_or_an_emailed_reply_is_not_an_answer() {
        let own = envelope(
            "ticket.message_added",
            json!({"visibility": "customer", "by": "c1", "customer_id": "c1", "via": null}),
        );
        assert!(fact_of(&own).is_empty());
        let staff = envelope(
            "ticket.message_added",
            json!({"visibility": "customer", "by": "u1", "customer_id": "c1", "via": null}),
        );
        assert_eq!(fact_of(&staff)[0].kind, "message_answered");
        let note = envelope(
            "ticket.message_added",
            json!({"visibility": "internal", "by": "u1", "customer_id": "c1", "via": null}),
        );
        assert!(fact_of(&note).is_empty());
    }

    #[test]
    fn events_no_report_counts_make_no_fact() {
        assert!(fact_of(&envelope("device.removed", json!({"by": "u1"}))).is_empty());
    }
}
