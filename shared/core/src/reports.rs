//! The report engine (seed 000): one [`Report`] rendered as the seed's template in HTML,
//! in an email-friendly HTML, as plain text and as a real PDF. `brain` renders diagnostic
//! and remote-session reports with it; `qc-inspector` its QC reports.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde::{Deserialize, Serialize};

use crate::text::escape_html;

/// The device a report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDevice {
    pub id: String,
    pub name: String,
    pub os: Option<String>,
}

/// The state of the device at one scan: what the report's before → after compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub scan_id: String,
    pub health_score: u32,
    /// Share of the storage in use, in %, when the scan knew the free space.
    pub storage_used_percent: Option<f64>,
    pub startup_seconds: Option<f64>,
}

/// A finding still open after the work, with its severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenIssue {
    pub severity: String,
    pub title: String,
}

/// A failure the foresight engine expects, as the report states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlook {
    pub component: String,
    pub failure_probability: f64,
    pub timeline_days: u32,
    pub urgency: String,
}

/// Everything a report says, in the seed's template order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    /// `diagnostic` or `remote_session`.
    pub kind: String,
    pub device: ReportDevice,
    /// RFC 3339.
    pub generated_at: String,
    pub technician: String,
    /// The scan or remote session the report is about.
    pub session_id: String,
    pub before: Option<Snapshot>,
    pub after: Snapshot,
    pub issues_fixed: Vec<String>,
    pub issues_open: Vec<OpenIssue>,
    pub recommendations: Vec<String>,
    pub outlook: Vec<Outlook>,
    /// `YYYY-MM-DD`.
    pub next_scan: String,
}

/// `2025-12-01T10:30:00Z` → `December 1, 2025`; anything else as given.
pub fn long_date(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.format("%B %-d, %Y").to_string())
        .or_else(|_| chrono::NaiveDate::parse_from_str(rfc3339, "%Y-%m-%d").map(|d| d.format("%B %-d, %Y").to_string()))
        .unwrap_or_else(|_| rfc3339.to_owned())
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "not measured".into())
}

fn seconds(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}s")).unwrap_or_else(|| "not measured".into())
}

impl Report {
    /// The before → after rows: (label, before, after).
    pub fn comparison(&self) -> Vec<(&'static str, String, String)> {
        let before = self.before.as_ref();
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        vec![
            ("Health Score", or_dash(before.map(|b| b.health_score.to_string())), self.after.health_score.to_string()),
            ("Startup Time", or_dash(before.map(|b| seconds(b.startup_seconds))), seconds(self.after.startup_seconds)),
            (
                "Storage Used",
                or_dash(before.map(|b| percent(b.storage_used_percent))),
                percent(self.after.storage_used_percent),
            ),
        ]
    }

    fn outlook_lines(&self) -> Vec<String> {
        self.outlook
            .iter()
            .map(|o| {
                format!(
                    "{}: {:.0}% chance of failure within {} days ({} urgency)",
                    o.component.replace('_', " "),
                    o.failure_probability * 100.0,
                    o.timeline_days,
                    o.urgency
                )
            })
            .collect()
    }

    /// The report as lines of text, in the seed's template (the PDF and the text email
    /// are made of these).
    pub fn lines(&self) -> Vec<Line> {
        let mut out = vec![
            Line::Title("NOIZYLAB REPAIR REPORT".into()),
            Line::Gap,
            Line::Text(format!("Device: {}", self.device.name)),
            Line::Text(format!("Date: {}", long_date(&self.generated_at))),
            Line::Text(format!("Technician: {}", self.technician)),
            Line::Text(format!("Session ID: {}", self.session_id)),
            Line::Gap,
            Line::Heading("BEFORE & AFTER".into()),
        ];
        for (label, before, after) in self.comparison() {
            out.push(Line::Text(format!("{label}: {before} -> {after}")));
        }
        out.push(Line::Gap);
        out.push(Line::Heading("ISSUES FIXED".into()));
        if self.issues_fixed.is_empty() {
            out.push(Line::Text("None recorded.".into()));
        }
        out.extend(self.issues_fixed.iter().map(|i| Line::Text(format!("+ {i}"))));
        if !self.issues_open.is_empty() {
            out.push(Line::Gap);
            out.push(Line::Heading("STILL OPEN".into()));
            out.extend(self.issues_open.iter().map(|i| Line::Text(format!("! {} ({})", i.title, i.severity))));
        }
        out.push(Line::Gap);
        out.push(Line::Heading("RECOMMENDATIONS".into()));
        if self.recommendations.is_empty() {
            out.push(Line::Text("Nothing to do: keep scanning regularly.".into()));
        }
        out.extend(self.recommendations.iter().map(|r| Line::Text(format!("- {r}"))));
        if !self.outlook.is_empty() {
            out.push(Line::Gap);
            out.push(Line::Heading("OUTLOOK".into()));
            out.extend(self.outlook_lines().into_iter().map(|l| Line::Text(format!("- {l}"))));
        }
        out.push(Line::Gap);
        out.push(Line::Heading(format!("NEXT SCAN: {}", long_date(&self.next_scan))));
        out.push(Line::Gap);
        out.push(Line::Text("Powered by NoizyLab OS".into()));
        out
    }

    /// Plain text (the email's text part).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for line in self.lines() {
            match line {
                Line::Gap => s.push('\n'),
                Line::Title(t) | Line::Heading(t) | Line::Text(t) => {
                    s.push_str(&t);
                    s.push('\n');
                }
            }
        }
        s
    }

    fn sections_html(&self) -> String {
        let e = escape_html;
        let rows: String = self
            .comparison()
            .into_iter()
            .map(|(label, before, after)| {
                format!("<tr><th scope=\"row\">{label}</th><td>{}</td><td>{}</td></tr>", e(&before), e(&after))
            })
            .collect();
        let list = |items: Vec<String>, empty: &str| -> String {
            if items.is_empty() {
                return format!("<p>{}</p>", e(empty));
            }
            format!("<ul>{}</ul>", items.iter().map(|i| format!("<li>{}</li>", e(i))).collect::<String>())
        };
        let open = if self.issues_open.is_empty() {
            String::new()
        } else {
            format!(
                "<h2>Still open</h2>{}",
                list(self.issues_open.iter().map(|i| format!("{} ({})", i.title, i.severity)).collect(), "")
            )
        };
        let outlook = if self.outlook.is_empty() {
            String::new()
        } else {
            format!("<h2>Outlook</h2>{}", list(self.outlook_lines(), ""))
        };
        format!(
            "<dl><dt>Device</dt><dd>{device}</dd><dt>Date</dt><dd>{date}</dd><dt>Technician</dt><dd>{tech}</dd>\
             <dt>Session ID</dt><dd>{session}</dd></dl>\
             <h2>Before &amp; after</h2><table><thead><tr><td></td><th scope=\"col\">Before</th><th scope=\"col\">After</th></tr></thead><tbody>{rows}</tbody></table>\
             <h2>Issues fixed</h2>{fixed}{open}<h2>Recommendations</h2>{recs}{outlook}\
             <p class=\"next\">Next scan: <strong>{next}</strong></p>",
            device = e(&self.device.name),
            date = e(&long_date(&self.generated_at)),
            tech = e(&self.technician),
            session = e(&self.session_id),
            fixed = list(self.issues_fixed.clone(), "None recorded."),
            recs = list(self.recommendations.clone(), "Nothing to do: keep scanning regularly."),
            next = e(&long_date(&self.next_scan)),
        )
    }

    /// The web page: the seed's template, self-contained (no scripts, no remote assets).
    pub fn html(&self) -> String {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Repair report: {title}</title><style>{STYLE}</style></head>\
             <body><main><h1>NoizyLab repair report</h1>{body}<footer>Powered by NoizyLab OS</footer></main></body></html>",
            title = escape_html(&self.device.name),
            body = self.sections_html(),
        )
    }

    /// The email version: inline styles only, no `<style>` or layout a mail client drops.
    pub fn email_html(&self) -> String {
        format!(
            "<div style=\"font-family:Helvetica,Arial,sans-serif;max-width:600px;color:#1d1d1f\">\
             <h1 style=\"font-size:20px\">Your repair report: {title}</h1>{body}\
             <p style=\"color:#6e6e73;font-size:12px\">Powered by NoizyLab OS</p></div>",
            title = escape_html(&self.device.name),
            body = self.sections_html(),
        )
    }

    /// A PDF of [`Report::lines`] on A4 pages, in the standard Helvetica fonts (nothing
    /// embedded, so the file stays small and every reader shows it).
    pub fn pdf(&self) -> Vec<u8> {
        render_pdf(&self.lines())
    }
}

/// The report pages' stylesheet (QC reports share it).
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f5f5f7;color:#1d1d1f}\
main{max-width:46rem;margin:2rem auto;background:#fff;padding:2rem;border-radius:12px}\
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.5rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}\
dt{font-weight:600}dd{margin:0}table{border-collapse:collapse}td,th{padding:.25rem .75rem;text-align:left}\
footer{margin-top:2rem;color:#6e6e73;font-size:.85rem}";

/// One line of a report as the PDF and the text lay it out.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Title(String),
    Heading(String),
    Text(String),
    Gap,
}

/// `c` in the PDF's WinAnsiEncoding; what it lacks becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '€' => 0x80,
            '…' => 0x85,
            _ => b'?',
        })
        .collect()
}

/// Splits `text` into lines of at most `width` characters at spaces (a word longer than
/// a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(head);
        }
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    lines.push(current);
    lines
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// A laid-out line: (font resource, size, leading, WinAnsi text); a gap has no text.
type Laid = (&'static [u8], f32, f32, Vec<u8>);

/// `lines` as an A4 PDF in the standard Helvetica fonts (nothing embedded).
pub fn render_pdf(lines: &[Line]) -> Vec<u8> {
    let mut laid: Vec<Laid> = Vec::new();
    for line in lines {
        match line {
            Line::Title(t) => laid.push((b"F2", 18.0, 26.0, win_ansi(t))),
            Line::Heading(t) => laid.push((b"F2", 12.0, 18.0, win_ansi(t))),
            // Helvetica at 10.5 pt fits about 85 characters between the margins.
            Line::Text(t) => laid.extend(wrap(t, 85).into_iter().map(|l| (&b"F1"[..], 10.5, 15.0, win_ansi(&l)))),
            Line::Gap => laid.push((b"F1", 10.5, 8.0, Vec::new())),
        }
    }
    let mut pages: Vec<Vec<&Laid>> = vec![Vec::new()];
    let mut y = PAGE_H - MARGIN;
    for l in &laid {
        if y - l.2 < MARGIN {
            pages.push(Vec::new());
            y = PAGE_H - MARGIN;
        }
        y -= l.2;
        if let Some(page) = pages.last_mut() {
            page.push(l);
        }
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let first_page = 5;
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(first_page + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, page_lines) in pages.iter().enumerate() {
        let id = page_ids[i];
        let content_id = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
        page.finish();
        let mut content = Content::new();
        let mut y = PAGE_H - MARGIN;
        for (font, size, leading, text) in page_lines {
            y -= leading;
            if text.is_empty() {
                continue;
            }
            content.begin_text().set_font(Name(font), *size).next_line(MARGIN, y).show(Str(text)).end_text();
        }
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            id: "rep_1".into(),
            kind: "diagnostic".into(),
            device: ReportDevice { id: "dev_1".into(), name: "MacBook Pro <M2>".into(), os: Some("macOS 14.1".into()) },
            generated_at: "2025-12-01T10:30:00Z".into(),
            technician: "NoizyLab + Rob".into(),
            session_id: "scan_ab12".into(),
            before: Some(Snapshot {
                scan_id: "scan_0".into(),
                health_score: 67,
                storage_used_percent: Some(92.0),
                startup_seconds: Some(85.0),
            }),
            after: Snapshot {
                scan_id: "scan_ab12".into(),
                health_score: 92,
                storage_used_percent: Some(78.0),
                startup_seconds: Some(28.0),
            },
            issues_fixed: vec!["Storage 92% full".into()],
            issues_open: vec![OpenIssue { severity: "warning".into(), title: "Battery at 71%".into() }],
            recommendations: vec!["Back up weekly".into()],
            outlook: vec![Outlook {
                component: "storage".into(),
                failure_probability: 0.73,
                timeline_days: 14,
                urgency: "high".into(),
            }],
            next_scan: "2025-12-15".into(),
        }
    }

    #[test]
    fn the_text_follows_the_seeds_template_with_before_and_after() {
        let t = report().text();
        for expected in [
            "NOIZYLAB REPAIR REPORT",
            "Device: MacBook Pro <M2>",
            "Date: December 1, 2025",
            "Session ID: scan_ab12",
            "Health Score: 67 -> 92",
            "Startup Time: 85s -> 28s",
            "Storage Used: 92% -> 78%",
            "+ Storage 92% full",
            "storage: 73% chance of failure within 14 days",
            "NEXT SCAN: December 15, 2025",
        ] {
            assert!(t.contains(expected), "{expected} in\n{t}");
        }
    }

    #[test]
    fn the_html_escapes_what_it_is_given() {
        let h = report().html();
        assert!(h.contains("MacBook Pro &lt;M2&gt;"));
        assert!(!h.contains("<M2>"));
        assert!(!h.contains("<script"));
    }

    #[test]
    fn the_pdf_is_a_pdf_with_the_text_in_its_streams() {
        let bytes = report().pdf();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
        let body = String::from_utf8_lossy(&bytes);
        assert!(body.contains("(Health Score: 67 -> 92)"), "{body}");
        assert!(body.contains("/WinAnsiEncoding"));
    }

    #[test]
    fn a_long_report_flows_onto_more_pages() {
        let mut r = report();
        r.recommendations = (0..120).map(|i| format!("Recommendation number {i}")).collect();
        let body = String::from_utf8_lossy(&r.pdf()).into_owned();
        let pages = body.matches("/Type /Page\n").count();
        assert!(pages >= 2, "{pages} pages");
    }

    #[test]
    fn text_is_wrapped_at_spaces_and_long_words_are_cut() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(win_ansi("a→°"), vec![b'a', b'?', 0xb0]);
    }
}
