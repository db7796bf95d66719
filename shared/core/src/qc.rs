//! Quality control (issue 14): checkpoint templates per device type, the verdict of an
//! inspection and its report. Pure: `qc-inspector` stores and serves it, and asks `vision`
//! for photo checkpoints.
//!
//! A checkpoint is a manual pass/fail, a measurement that must fall in a range (the 3.3 V
//! rail reads 3.2–3.4 V), or a photo compared with a golden reference that fails on a
//! defect at or above a severity. An inspection passes when every checkpoint is answered
//! and passed; one failed checkpoint fails it, and the failed ones are the rework list.

use serde::{Deserialize, Serialize};

use crate::error::invalid;
pub use crate::error::Invalid;

use crate::reports::{self, Line};
use crate::text::escape_html;

/// What a checkpoint asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Check {
    Manual,
    Measurement { unit: String, min: f64, max: f64 },
    Photo { reference_id: String, fail_at: Severity },
}

/// A vision defect's severity, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Minor,
    Major,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Unique in its template: `3v3_rail`, `board_photo`.
    pub id: String,
    pub label: String,
    #[serde(flatten)]
    pub check: Check,
}

/// At most this many checkpoints in a template.
pub const MAX_CHECKPOINTS: usize = 100;

/// Refuses a template a technician could not work through: no checkpoints, a repeated or
/// malformed id, an empty label, an empty or inverted range.
pub fn check_template(checkpoints: &[Checkpoint]) -> Result<(), Invalid> {
    if checkpoints.is_empty() || checkpoints.len() > MAX_CHECKPOINTS {
        return Err(invalid("checkpoints", format!("a template has 1 to {MAX_CHECKPOINTS} checkpoints")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in checkpoints {
        let id_ok = !c.id.is_empty()
            && c.id.len() <= 40
            && c.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !id_ok {
            return Err(invalid("checkpoints", format!("'{}': an id is 1 to 40 of a-z, 0-9 and _", c.id)));
        }
        if !seen.insert(c.id.as_str()) {
            return Err(invalid("checkpoints", format!("'{}' appears twice", c.id)));
        }
        if c.label.trim().is_empty() || c.label.len() > 200 {
            return Err(invalid("checkpoints", format!("'{}': a label is 1 to 200 characters", c.id)));
        }
        match &c.check {
            Check::Measurement { unit, min, max } => {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(invalid("checkpoints", format!("'{}': the range needs min below max", c.id)));
                }
                if unit.trim().is_empty() || unit.len() > 16 {
                    return Err(invalid("checkpoints", format!("'{}': name the unit (V, Ω, °C …)", c.id)));
                }
            }
            Check::Photo { reference_id, .. } if reference_id.trim().is_empty() => {
                return Err(invalid("checkpoints", format!("'{}': a photo checkpoint names its reference", c.id)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the technician recorded for one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Manual {
        passed: bool,
    },
    Measurement {
        value: serde_json::Value,
    },
    /// A vision analysis: the worst severity it found (none: clean) and each defect as a
    /// technician reads it (`missing component on U2 (critical)`).
    Photo {
        analysis_id: String,
        worst: Option<Severity>,
        #[serde(default)]
        found: Vec<String>,
    },
}

/// One checkpoint's verdict, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub checkpoint: String,
    pub passed: bool,
    pub detail: String,
}

/// Judges `answer` for `checkpoint`; an answer of the wrong shape, or a measurement that is
/// not a number, is refused.
pub fn judge(checkpoint: &Checkpoint, answer: &Answer) -> Result<Verdict, Invalid> {
    let field = format!("answers.{}", checkpoint.id);
    let verdict = |passed: bool, detail: String| Verdict { checkpoint: checkpoint.id.clone(), passed, detail };
    match (&checkpoint.check, answer) {
        (Check::Manual, Answer::Manual { passed }) => {
            Ok(verdict(*passed, if *passed { "checked: pass".into() } else { "checked: fail".into() }))
        }
        (Check::Measurement { unit, min, max }, Answer::Measurement { value }) => {
            let v = value
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| invalid(&field, format!("{} is a number in {unit}", checkpoint.label)))?;
            let passed = (*min..=*max).contains(&v);
            Ok(verdict(passed, format!("{v} {unit} (allowed {min}–{max} {unit})")))
        }
        (Check::Photo { fail_at, .. }, Answer::Photo { analysis_id, worst, found }) => {
            let passed = worst.is_none_or(|w| w < *fail_at);
            let detail = match (worst, found.is_empty()) {
                (None, _) => format!("no defects (analysis {analysis_id})"),
                (Some(w), true) => format!("worst defect {} (analysis {analysis_id})", format!("{w:?}").to_lowercase()),
                (Some(_), false) => format!("{} (analysis {analysis_id})", found.join("; ")),
            };
            Ok(verdict(passed, detail))
        }
        (Check::Manual, _) => Err(invalid(&field, "answer {\"passed\": true|false}")),
        (Check::Measurement { .. }, _) => Err(invalid(&field, "answer {\"value\": <number>}")),
        (Check::Photo { .. }, _) => Err(invalid(&field, "answer with a vision analysis of the board")),
    }
}

/// Where an inspection stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Checkpoints still unanswered, and those already failed (the inspection will fail).
    Pending {
        missing: Vec<String>,
        failing: Vec<String>,
    },
    Passed,
    /// The failed checkpoints, in the template's order: the rework list.
    Failed {
        rework: Vec<Verdict>,
    },
}

impl Outcome {
    /// Whether every checkpoint is answered.
    pub fn is_final(&self) -> bool {
        !matches!(self, Outcome::Pending { .. })
    }
}

/// The inspection's outcome from the verdicts recorded so far (one per checkpoint): final
/// once every checkpoint is answered, so the rework list is complete.
pub fn outcome(template: &[Checkpoint], verdicts: &[Verdict]) -> Outcome {
    let failed: Vec<Verdict> =
        template.iter().filter_map(|c| verdicts.iter().find(|v| v.checkpoint == c.id && !v.passed).cloned()).collect();
    let missing: Vec<String> =
        template.iter().filter(|c| !verdicts.iter().any(|v| v.checkpoint == c.id)).map(|c| c.id.clone()).collect();
    match (missing.is_empty(), failed.is_empty()) {
        (false, _) => Outcome::Pending { missing, failing: failed.into_iter().map(|v| v.checkpoint).collect() },
        (true, true) => Outcome::Passed,
        (true, false) => Outcome::Failed { rework: failed },
    }
}

/// One checkpoint as the QC report states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCheck {
    pub label: String,
    pub passed: bool,
    pub detail: String,
}

/// A finished inspection as the customer and the shop read it (HTML, PDF, text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcReport {
    pub inspection_id: String,
    pub ticket_number: i64,
    pub device: String,
    pub device_type: String,
    /// RFC 3339.
    pub inspected_at: String,
    pub inspector: String,
    /// 1 for the first inspection of the repair, 2 after one rework, …
    pub attempt: u32,
    pub passed: bool,
    pub checks: Vec<ReportCheck>,
}

impl QcReport {
    fn result(&self) -> &'static str {
        if self.passed {
            "PASSED"
        } else {
            "FAILED"
        }
    }

    /// The report as lines (the PDF and the text are made of these).
    pub fn lines(&self) -> Vec<Line> {
        let mut out = vec![
            Line::Title("NOIZYLAB QUALITY CONTROL REPORT".into()),
            Line::Gap,
            Line::Text(format!("Device: {} ({})", self.device, self.device_type)),
            Line::Text(format!("Ticket: #{}", self.ticket_number)),
            Line::Text(format!("Date: {}", reports::long_date(&self.inspected_at))),
            Line::Text(format!("Inspector: {}", self.inspector)),
            Line::Text(format!("Inspection: {} (attempt {})", self.inspection_id, self.attempt)),
            Line::Gap,
            Line::Heading(format!("RESULT: {}", self.result())),
            Line::Gap,
            Line::Heading("CHECKPOINTS".into()),
        ];
        out.extend(
            self.checks
                .iter()
                .map(|c| Line::Text(format!("{} {}: {}", if c.passed { "PASS" } else { "FAIL" }, c.label, c.detail))),
        );
        out.push(Line::Gap);
        out.push(Line::Text("Powered by NoizyLab OS".into()));
        out
    }

    /// Plain text.
    pub fn text(&self) -> String {
        self.lines()
            .into_iter()
            .map(|l| match l {
                Line::Gap => "\n".to_owned(),
                Line::Title(t) | Line::Heading(t) | Line::Text(t) => format!("{t}\n"),
            })
            .collect()
    }

    /// The web page, self-contained (no scripts, no remote assets).
    pub fn html(&self) -> String {
        let e = escape_html;
        let rows: String = self
            .checks
            .iter()
            .map(|c| {
                format!(
                    "<tr><td>{}</td><th scope=\"row\">{}</th><td>{}</td></tr>",
                    if c.passed { "✔ pass" } else { "✘ fail" },
                    e(&c.label),
                    e(&c.detail)
                )
            })
            .collect();
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Quality control: {device}</title><style>{style}</style></head>\
             <body><main><h1>NoizyLab quality control report</h1>\
             <dl><dt>Device</dt><dd>{device} ({kind})</dd><dt>Ticket</dt><dd>#{number}</dd>\
             <dt>Date</dt><dd>{date}</dd><dt>Inspector</dt><dd>{inspector}</dd>\
             <dt>Inspection</dt><dd>{id} (attempt {attempt})</dd></dl>\
             <h2>Result: <strong>{result}</strong></h2>\
             <table><thead><tr><th scope=\"col\">Result</th><th scope=\"col\">Checkpoint</th>\
             <th scope=\"col\">Reading</th></tr></thead><tbody>{rows}</tbody></table>\
             <footer>Powered by NoizyLab OS</footer></main></body></html>",
            style = reports::STYLE,
            device = e(&self.device),
            kind = e(&self.device_type),
            number = self.ticket_number,
            date = e(&reports::long_date(&self.inspected_at)),
            inspector = e(&self.inspector),
            id = e(&self.inspection_id),
            attempt = self.attempt,
            result = self.result(),
        )
    }

    /// A PDF of [`QcReport::lines`].
    pub fn pdf(&self) -> Vec<u8> {
        reports::render_pdf(&self.lines())
    }
}

/// First-pass yield: the share of repairs whose first inspection passed, in % to one
/// decimal; `None` when nothing was inspected.
pub fn first_pass_yield(first_inspections: i64, passed_first: i64) -> Option<f64> {
    (first_inspections > 0).then(|| (passed_first as f64 * 1000.0 / first_inspections as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Vec<Checkpoint> {
        serde_json::from_value(json!([
            { "id": "powers_on", "label": "Powers on", "kind": "manual" },
            { "id": "rail_3v3", "label": "3.3 V rail", "kind": "measurement", "unit": "V", "min": 3.2, "max": 3.4 },
            { "id": "board_photo", "label": "Board photo", "kind": "photo", "reference_id": "ref_1", "fail_at": "major" },
        ]))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_template_reads_from_json_and_bad_ones_are_named() {
        let t = template();
        assert_eq!(check_template(&t), Ok(()));
        let mut twice = t.clone();
        twice.push(t[0].clone());
        assert!(check_template(&twice).is_err_and(|e| e.message.contains("twice")));
        let mut inverted = t.clone();
        inverted[1].check = Check::Measurement { unit: "V".into(), min: 3.4, max: 3.2 };
        assert!(check_template(&inverted).is_err_and(|e| e.message.contains("rail_3v3")));
        assert!(check_template(&[]).is_err());
    }

    #[test]
    fn measurements_are_judged_against_their_range_and_must_be_numbers() {
        let t = template();
        let ok = judge(&t[1], &Answer::Measurement { value: json!(3.31) }).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(ok.passed && ok.detail.contains("3.31 V"));
        let low = judge(&t[1], &Answer::Measurement { value: json!(3.05) }).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!low.passed);
        let text = judge(&t[1], &Answer::Measurement { value: json!("about 3.3") });
        assert!(text.is_err_and(|e| e.field == "answers.rail_3v3"));
        assert!(judge(&t[1], &Answer::Manual { passed: true }).is_err(), "a wrong shape is refused");
    }

    #[test]
    fn a_photo_fails_at_its_severity_and_the_outcome_lists_the_rework() {
        let t = template();
        let minor = Answer::Photo { analysis_id: "va_1".into(), worst: Some(Severity::Minor), found: vec![] };
        let found = vec!["missing component on U2 (critical)".to_owned()];
        let critical = Answer::Photo { analysis_id: "va_2".into(), worst: Some(Severity::Critical), found };
        assert!(judge(&t[2], &minor).is_ok_and(|v| v.passed));
        let photo = judge(&t[2], &critical).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!photo.passed);
        assert_eq!(photo.detail, "missing component on U2 (critical) (analysis va_2)");
        let on = judge(&t[0], &Answer::Manual { passed: true }).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            outcome(&t, std::slice::from_ref(&on)),
            Outcome::Pending { missing: vec!["rail_3v3".into(), "board_photo".into()], failing: vec![] }
        );
        assert_eq!(
            outcome(&t, &[on.clone(), photo.clone()]),
            Outcome::Pending { missing: vec!["rail_3v3".into()], failing: vec!["board_photo".into()] },
            "a failure is final only once every checkpoint is answered"
        );
        let rail = judge(&t[1], &Answer::Measurement { value: json!(3.3) }).unwrap_or_else(|e| panic!("{e:?}"));
        let failed = outcome(&t, &[on.clone(), rail.clone(), photo.clone()]);
        assert!(failed.is_final());
        assert_eq!(failed, Outcome::Failed { rework: vec![photo] });
        let clean = judge(&t[2], &Answer::Photo { analysis_id: "va_3".into(), worst: None, found: vec![] })
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(outcome(&t, &[on, rail, clean]), Outcome::Passed);
    }

    #[test]
    fn the_report_states_every_checkpoint_and_the_yield_is_a_share() {
        let report = QcReport {
            inspection_id: "qc_1".into(),
            ticket_number: 42,
            device: "Dell <XPS> 13".into(),
            device_type: "laptop".into(),
            inspected_at: "2026-12-04T10:30:00Z".into(),
            inspector: "Sam".into(),
            attempt: 2,
            passed: false,
            checks: vec![
                ReportCheck { label: "Powers on".into(), passed: true, detail: "checked: pass".into() },
                ReportCheck {
                    label: "3.3 V rail".into(), passed: false, detail: "3.05 V (allowed 3.2–3.4 V)".into()
                },
            ],
        };
        let text = report.text();
        assert!(text.contains("RESULT: FAILED"), "{text}");
        assert!(text.contains("FAIL 3.3 V rail: 3.05 V"), "{text}");
        assert!(text.contains("December 4, 2026") && text.contains("attempt 2"), "{text}");
        let html = report.html();
        assert!(html.contains("Dell &lt;XPS&gt; 13") && !html.contains("<XPS>"), "escaped");
        assert!(report.pdf().starts_with(b"%PDF-"));
        assert_eq!(first_pass_yield(0, 0), None);
        assert_eq!(first_pass_yield(3, 2), Some(66.7));
        assert_eq!(first_pass_yield(4, 4), Some(100.0));
    }
}
