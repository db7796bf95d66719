//! What `smartctl --json` (smartmontools 7.x) says about a drive: the self-assessment,
//! the ATA attributes that predict failure, NVMe's health log, temperature and age.
//!
//! Which ATA attributes matter comes from Backblaze's study of its drive fleet ("What SMART
//! Stats Tell Us About Hard Drives", Backblaze blog, 2016-10-06): of failed drives, 76.7 %
//! had a raw value above zero in at least one of SMART 5, 187, 188, 197 and 198, against
//! 4.2 % of working drives. UDMA CRC errors (199) point at the cable or port, not the disk.
//! The NVMe fields are those of the NVMe Base Specification's SMART / Health Information log
//! page (critical warning bits, available spare against its threshold, percentage used,
//! media and data integrity errors).

use serde_json::Value;

use super::{Category, Finding, Severity};

/// One drive's facts, whichever protocol it spoke.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drive {
    pub model: Option<String>,
    pub serial: Option<String>,
    /// `ata`, `nvme` or `scsi` (what smartctl called the device).
    pub protocol: String,
    /// The drive's own verdict, when it gave one.
    pub passed: Option<bool>,
    pub temperature_c: Option<i64>,
    pub power_on_hours: Option<i64>,
    /// The counters that predict failure, by name (see the module's sources).
    pub counters: Vec<(&'static str, i64)>,
    pub findings: Vec<Finding>,
}

/// Why a `smart_data` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// The ATA attributes that matter: (id, name, what a non-zero raw value means).
const ATA: &[(u64, &str, &str)] = &[
    (5, "reallocated_sectors", "sectors the drive has already replaced with spares"),
    (187, "reported_uncorrectable", "reads the drive could not correct"),
    (188, "command_timeouts", "commands that timed out"),
    (197, "pending_sectors", "unstable sectors waiting to be reallocated"),
    (198, "offline_uncorrectable", "sectors found unreadable by the offline scan"),
    (199, "udma_crc_errors", "transfer errors between the drive and the computer"),
];

/// Reads `smartctl --json` output (the object, or its text).
pub fn read(data: &Value) -> Result<Drive, Unreadable> {
    let owned;
    let doc = match data {
        Value::String(text) => {
            owned = serde_json::from_str::<Value>(text)
                .map_err(|e| Unreadable(format!("smart_data is not smartctl JSON ({e})")))?;
            &owned
        }
        Value::Object(_) => data,
        _ => return Err(Unreadable("smart_data is the output of `smartctl --json -x <device>`".into())),
    };
    if doc.get("smartctl").is_none() && doc.get("device").is_none() {
        return Err(Unreadable("smart_data has neither `smartctl` nor `device`: is it smartctl --json output?".into()));
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let protocol = doc
        .pointer("/device/type")
        .or_else(|| doc.pointer("/device/protocol"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_ascii_lowercase();
    let mut drive = Drive {
        model: doc.get("model_name").and_then(text),
        serial: doc.get("serial_number").and_then(text),
        protocol,
        passed: doc.pointer("/smart_status/passed").and_then(Value::as_bool),
        temperature_c: doc.pointer("/temperature/current").and_then(Value::as_i64),
        power_on_hours: doc.pointer("/power_on_time/hours").and_then(Value::as_i64),
        ..Drive::default()
    };
    let name = drive.model.clone().unwrap_or_else(|| "the drive".into());
    if drive.passed == Some(false) {
        drive.findings.push(
            Finding::new(
                Severity::Critical,
                Category::Storage,
                format!("{name} fails its own SMART self-assessment"),
                "The drive itself predicts it will fail. Back up now and replace it.",
            )
            .with_evidence("smart_status.passed = false")
            .minutes(60),
        );
    }
    if let Some(table) = doc.pointer("/ata_smart_attributes/table").and_then(Value::as_array) {
        ata(&mut drive, &name, table);
    }
    if let Some(log) = doc.get("nvme_smart_health_information_log") {
        nvme(&mut drive, &name, log);
    }
    if let Some(t) = drive.temperature_c {
        let hot = if drive.protocol == "nvme" { 70 } else { 55 };
        if t >= hot {
            drive.findings.push(
                Finding::new(
                    Severity::Warning,
                    Category::Thermal,
                    format!("{name} runs hot ({t} °C)"),
                    "Heat shortens a drive's life: check airflow and the fan.",
                )
                .with_evidence(format!("temperature.current = {t}"))
                .minutes(15),
            );
        }
    }
    if let Some(h) = drive.power_on_hours.filter(|h| *h >= 35_000) {
        drive.findings.push(
            Finding::new(
                Severity::Info,
                Category::Storage,
                format!("{name} has run {} years", h / 8766),
                "Drives this old fail more often: keep backups current.",
            )
            .with_evidence(format!("power_on_time.hours = {h}")),
        );
    }
    Ok(drive)
}

fn ata(drive: &mut Drive, name: &str, table: &[Value]) {
    for attr in table {
        let id = attr.get("id").and_then(Value::as_u64).unwrap_or(0);
        let raw = attr.pointer("/raw/value").and_then(Value::as_i64).unwrap_or(0);
        let when_failed = attr.get("when_failed").and_then(Value::as_str).unwrap_or("");
        let label = attr.get("name").and_then(Value::as_str).unwrap_or("attribute");
        let normalised = attr.get("value").and_then(Value::as_i64);
        let threshold = attr.get("thresh").and_then(Value::as_i64);
        let evidence = format!(
            "SMART {id} {label}: raw {raw}, normalised {}, threshold {}{}",
            normalised.map_or("?".into(), |v| v.to_string()),
            threshold.map_or("?".into(), |v| v.to_string()),
            if when_failed.is_empty() { String::new() } else { format!(", failed {when_failed}") }
        );
        if let Some((_, key, meaning)) = ATA.iter().find(|(i, _, _)| *i == id) {
            drive.counters.push((key, raw));
            if raw <= 0 && when_failed.is_empty() {
                continue;
            }
            let finding = if id == 199 {
                Finding::new(
                    Severity::Warning,
                    Category::Cable,
                    format!("{raw} transfer errors between {name} and the computer"),
                    "UDMA CRC errors come from the SATA cable or port, not the disk: reseat or replace the cable.",
                )
                .minutes(10)
            } else {
                let severity = if !when_failed.is_empty() || raw >= 100 || id == 197 || id == 198 {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                Finding::new(
                    severity,
                    Category::Storage,
                    format!("{name}: {raw} {meaning}"),
                    "Drives with any of these counters above zero fail far more often (Backblaze): back up and plan a replacement.",
                )
                .minutes(60)
            };
            drive.findings.push(finding.with_evidence(evidence));
        } else if when_failed == "now" {
            drive.findings.push(
                Finding::new(
                    Severity::Critical,
                    Category::Storage,
                    format!("{name}: {label} is below its failure threshold"),
                    "The drive reports this attribute as failing now.",
                )
                .with_evidence(evidence)
                .minutes(60),
            );
        }
    }
}

fn nvme(drive: &mut Drive, name: &str, log: &Value) {
    let n = |k: &str| log.get(k).and_then(Value::as_i64);
    if drive.temperature_c.is_none() {
        drive.temperature_c = n("temperature");
    }
    if drive.power_on_hours.is_none() {
        drive.power_on_hours = n("power_on_hours");
    }
    let warning = n("critical_warning").unwrap_or(0);
    let media = n("media_errors").unwrap_or(0);
    let used = n("percentage_used").unwrap_or(0);
    let (spare, spare_min) = (n("available_spare"), n("available_spare_threshold"));
    drive.counters.extend([("critical_warning", warning), ("media_errors", media), ("percentage_used", used)]);
    if warning != 0 {
        // NVMe critical warning bits: 0 spare below threshold, 1 temperature, 2 reliability
        // degraded, 3 read-only, 4 volatile memory backup failed.
        let what: Vec<&str> = [
            (0, "spare capacity below threshold"),
            (1, "temperature out of range"),
            (2, "reliability degraded"),
            (3, "read-only mode"),
            (4, "volatile memory backup failed"),
        ]
        .iter()
        .filter(|(bit, _)| warning & (1 << bit) != 0)
        .map(|(_, w)| *w)
        .collect();
        drive.findings.push(
            Finding::new(
                Severity::Critical,
                Category::Storage,
                format!("{name} raises an NVMe critical warning"),
                format!("The controller reports: {}. Back up and replace.", what.join(", ")),
            )
            .with_evidence(format!("critical_warning = {warning:#04x}"))
            .minutes(60),
        );
    }
    if media > 0 {
        let severity = if media >= 100 { Severity::Critical } else { Severity::Warning };
        drive.findings.push(
            Finding::new(
                severity,
                Category::Storage,
                format!("{name}: {media} media errors"),
                "Data the drive could not read back intact. Back up and watch the count: if it grows, replace the drive.",
            )
            .with_evidence(format!("media_errors = {media}, num_err_log_entries = {}", n("num_err_log_entries").unwrap_or(0)))
            .minutes(60),
        );
    }
    if let (Some(s), Some(min)) = (spare, spare_min) {
        if s <= min {
            drive.findings.push(
                Finding::new(
                    Severity::Critical,
                    Category::Storage,
                    format!("{name} has used up its spare blocks ({s} % left)"),
                    "Below the spare threshold the drive can go read-only at any moment. Replace it.",
                )
                .with_evidence(format!("available_spare = {s}, available_spare_threshold = {min}"))
                .minutes(60),
            );
        }
    }
    if used >= 90 {
        let severity = if used >= 100 { Severity::Critical } else { Severity::Warning };
        drive.findings.push(
            Finding::new(
                severity,
                Category::Storage,
                format!("{name} is {used} % worn"),
                "The drive is near or past its rated write endurance.",
            )
            .with_evidence(format!("percentage_used = {used}"))
            .minutes(60),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/data/smartctl/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_healthy_sata_ssd_has_nothing_to_say() {
        // Real output: Samsung SSD 860 EVO (tests/data/smartctl/README.md).
        let drive = read(&fixture("smart-ata-full")).unwrap_or_default();
        assert_eq!(drive.model.as_deref(), Some("Samsung SSD 860 EVO 500GB"));
        assert_eq!(drive.passed, Some(true));
        assert_eq!(drive.power_on_hours, Some(14_551));
        assert!(drive.findings.is_empty(), "{:?}", drive.findings);
        assert!(drive.counters.contains(&("reallocated_sectors", 0)));
    }

    #[test]
    fn a_failing_hitachi_is_critical_on_every_count() {
        // Real output: Hitachi HDS721050DLE630, self-assessment FAILED.
        let drive = read(&fixture("smart-fail2")).unwrap_or_default();
        assert_eq!(drive.passed, Some(false));
        assert!(drive.counters.contains(&("reallocated_sectors", 1975)));
        assert!(drive.counters.contains(&("pending_sectors", 8)));
        let titles: Vec<&str> = drive.findings.iter().map(|f| f.title.as_str()).collect();
        assert!(titles.iter().any(|t| t.contains("fails its own SMART self-assessment")), "{titles:?}");
        assert!(titles.iter().any(|t| t.contains("1975 sectors the drive has already replaced")), "{titles:?}");
        assert!(titles.iter().any(|t| t.contains("8 unstable sectors")), "{titles:?}");
        let realloc = drive.findings.iter().find(|f| f.title.contains("1975")).map(|f| f.evidence.join(" "));
        assert!(realloc.is_some_and(|e| e.contains("failed now")));
        // 65,592 hours: an old drive, said as such.
        assert!(titles.iter().any(|t| t.contains("has run 7 years")), "{titles:?}");
    }

    #[test]
    fn crc_errors_blame_the_cable_not_the_disk() {
        // Real output: Samsung SSD 840 Series with 108 UDMA CRC errors.
        let drive = read(&fixture("smart-ata-failed-scrutiny")).unwrap_or_default();
        assert_eq!(drive.findings.len(), 1, "{:?}", drive.findings);
        assert_eq!(drive.findings[0].category, Category::Cable);
        assert_eq!(drive.findings[0].severity, Severity::Warning);
        assert!(drive.findings[0].title.starts_with("108 transfer errors"));
    }

    #[test]
    fn nvme_media_errors_are_a_warning_and_a_healthy_nvme_is_clean() {
        // Real output: Samsung SSD 970 EVO with 7 media errors; INTEL SSDPEKNW010T8 healthy.
        let worn = read(&fixture("smart-nvme-failed")).unwrap_or_default();
        assert_eq!(worn.protocol, "nvme");
        assert_eq!(worn.power_on_hours, Some(12_798));
        assert_eq!(worn.findings.len(), 1, "{:?}", worn.findings);
        assert_eq!(worn.findings[0].severity, Severity::Warning);
        assert!(worn.findings[0].title.contains("7 media errors"));
        let healthy = read(&fixture("smart-nvme")).unwrap_or_default();
        assert!(healthy.findings.is_empty(), "{:?}", healthy.findings);
        assert_eq!(healthy.temperature_c, Some(36));
    }

    #[test]
    fn text_is_accepted_and_garbage_is_named() {
        let text = serde_json::to_string(&fixture("smart-nvme")).unwrap_or_default();
        assert!(read(&Value::String(text)).is_ok());
        assert!(read(&Value::String("{\"smartctl\": [1,".into())).is_err());
        assert!(read(&serde_json::json!({ "hello": 1 })).is_err());
        assert!(read(&serde_json::json!(42)).is_err());
    }
}
