//! A repair ticket's lifecycle:
//!
//! ```text
//! INTAKE → TRIAGE → DIAGNOSTICS → AWAITING_APPROVAL → APPROVED → (WAITING_PARTS) →
//! IN_REPAIR → QC → READY → PICKED_UP → CLOSED          VOID from any open state
//! ```
//!
//! with the loops a bench really has: a declined quote sends the ticket back to
//! DIAGNOSTICS, a failed QC back to IN_REPAIR, and parts can run out mid-repair.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Intake,
    Triage,
    Diagnostics,
    AwaitingApproval,
    Approved,
    WaitingParts,
    InRepair,
    Qc,
    Ready,
    PickedUp,
    Closed,
    Void,
}

use Status::*;

/// Every status, in lifecycle order (the board's columns).
pub const ALL: [Status; 12] = [
    Intake,
    Triage,
    Diagnostics,
    AwaitingApproval,
    Approved,
    WaitingParts,
    InRepair,
    Qc,
    Ready,
    PickedUp,
    Closed,
    Void,
];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Intake => "INTAKE",
            Triage => "TRIAGE",
            Diagnostics => "DIAGNOSTICS",
            AwaitingApproval => "AWAITING_APPROVAL",
            Approved => "APPROVED",
            WaitingParts => "WAITING_PARTS",
            InRepair => "IN_REPAIR",
            Qc => "QC",
            Ready => "READY",
            PickedUp => "PICKED_UP",
            Closed => "CLOSED",
            Void => "VOID",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Open: work may still happen (everything before the device has left, bar VOID).
    pub fn is_open(self) -> bool {
        !matches!(self, PickedUp | Closed | Void)
    }

    /// Where a ticket may go from here.
    pub fn next(self) -> Vec<Status> {
        let mut moves: Vec<Status> = match self {
            Intake => vec![Triage],
            Triage => vec![Diagnostics],
            Diagnostics => vec![AwaitingApproval],
            AwaitingApproval => vec![Approved, Diagnostics],
            Approved => vec![WaitingParts, InRepair],
            WaitingParts => vec![InRepair],
            InRepair => vec![Qc, WaitingParts],
            Qc => vec![Ready, InRepair],
            Ready => vec![PickedUp],
            PickedUp => vec![Closed],
            Closed | Void => vec![],
        };
        if self.is_open() {
            moves.push(Void);
        }
        moves
    }

    pub fn can_move_to(self, to: Status) -> bool {
        self.next().contains(&to)
    }

    /// Moves only the quote flow makes: a quote being issued, approved or declined.
    pub fn is_quote_driven(from: Status, to: Status) -> bool {
        matches!((from, to), (Diagnostics, AwaitingApproval) | (AwaitingApproval, Approved | Diagnostics))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A due date as a customer or technician gives it: a calendar date (`2026-12-01`) or an
/// RFC 3339 time (`2026-12-01T17:00:00+01:00`), parsed with `chrono` and returned in one
/// canonical form (the date as given, a time in UTC). `None` for anything else.
pub fn parse_due(raw: &str) -> Option<String> {
    let v = raw.trim();
    if v.len() > 40 {
        return None;
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(date.format("%Y-%m-%d").to_string());
    }
    let time = chrono::DateTime::parse_from_rfc3339(v).ok()?;
    Some(time.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// What kind of file an upload is, judged from its first bytes (never from its name or
/// declared type): the content type to store it under, or `None` if it is not accepted.
/// Photos and PDFs, and voice notes: MP3, Ogg (Vorbis or Opus), WAV, M4A, and the WebM a
/// browser's `MediaRecorder` writes.
pub fn sniff_content_type(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && matches!(&bytes[8..12], b"heic" | b"heix" | b"mif1") {
        Some("image/heic")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else {
        sniff_audio(bytes)
    }
}

/// Audio, by its magic numbers (the `infer` crate), as the type it is stored and served as.
fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    match infer::get(bytes)?.mime_type() {
        "audio/mpeg" => Some("audio/mpeg"),
        "audio/ogg" | "audio/opus" => Some("audio/ogg"),
        "audio/x-wav" => Some("audio/wav"),
        "audio/m4a" | "audio/mp4" => Some("audio/mp4"),
        // Matroska/WebM: what Chromium and Firefox record voice into (Opus inside).
        "video/webm" => Some("audio/webm"),
        _ => None,
    }
}

/// Whether a stored attachment is a voice note (audio).
pub fn is_audio(content_type: &str) -> bool {
    content_type.starts_with("audio/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_is_allowed_step_by_step() {
        let path = [
            Intake,
            Triage,
            Diagnostics,
            AwaitingApproval,
            Approved,
            WaitingParts,
            InRepair,
            Qc,
            Ready,
            PickedUp,
            Closed,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_move_to(pair[1]), "{:?} → {:?}", pair[0], pair[1]);
        }
        assert!(Approved.can_move_to(InRepair), "parts may already be in stock");
    }

    #[test]
    fn skipping_steps_and_leaving_closed_tickets_is_refused() {
        assert!(!Intake.can_move_to(InRepair));
        assert!(!Diagnostics.can_move_to(Approved));
        assert!(Closed.next().is_empty());
        assert!(Void.next().is_empty());
        assert!(!PickedUp.can_move_to(Void), "a device that left cannot be voided");
    }

    #[test]
    fn every_open_state_can_be_voided() {
        for s in ALL.into_iter().filter(|s| s.is_open()) {
            assert!(s.can_move_to(Void), "{s:?}");
        }
    }

    #[test]
    fn statuses_and_priorities_round_trip_their_names() {
        for s in ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("in_repair"), Some(InRepair));
        assert_eq!(Status::parse("FIXED"), None);
        assert_eq!(Priority::parse("URGENT"), Some(Priority::Urgent));
        assert_eq!(serde_json::to_string(&AwaitingApproval).unwrap_or_default(), "\"AWAITING_APPROVAL\"");
    }

    #[test]
    fn uploads_are_recognised_by_their_bytes_only() {
        assert_eq!(sniff_content_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(sniff_content_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_content_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff_content_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_content_type(b"<html><script>"), None);
        assert_eq!(sniff_content_type(b"MZ\x90\0"), None);
        assert_eq!(sniff_content_type(b""), None);
        // Voice notes. A real MP3 (shared/core/tests/data/voice, see its README), and the
        // first bytes of each other format as its specification opens a file.
        let mp3 =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/voice/gsutil-test.mp3")).unwrap_or_default();
        assert_eq!(sniff_content_type(&mp3), Some("audio/mpeg"));
        assert_eq!(
            sniff_content_type(b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead"),
            Some("audio/ogg")
        );
        assert_eq!(sniff_content_type(b"RIFF\x24\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(sniff_content_type(b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom"), Some("audio/mp4"));
        assert_eq!(
            sniff_content_type(
                b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm"
            ),
            Some("audio/webm")
        );
        assert!(is_audio("audio/webm") && !is_audio("image/png"));
    }

    #[test]
    fn due_dates_are_dates_or_rfc3339_times_and_nothing_else_panics() {
        assert_eq!(parse_due("2026-12-01").as_deref(), Some("2026-12-01"));
        assert_eq!(parse_due(" 2026-12-01T17:00:00+01:00 ").as_deref(), Some("2026-12-01T16:00:00Z"));
        for junk in ["", "x", "2026", "2026-13-01", "2026-02-30", "2026-12-01T", "2026-12-01Tnope", "é", "2026-12-01😀"]
        {
            assert_eq!(parse_due(junk), None, "{junk}");
        }
    }
}
