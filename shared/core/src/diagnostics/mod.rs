//! The diagnostics engine (seed 000): a device's facts, its drive's `smartctl --json` and
//! its logs in; a health score with how it was made, issues with their evidence,
//! recommendations and predicted failures out, in the seed's shape.
//!
//! Pure: no I/O, no clock (the caller passes the time), so `brain` runs it and tests hold
//! it to real data.

pub mod foresight;
pub mod logs;
pub mod plan;
pub mod smart;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Logs larger than this are refused (a 400 naming `logs`; the whole body is held to
/// 1 MiB): a day of a busy machine's
/// kernel and system log fits.
pub const MAX_LOG_BYTES: usize = 768 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Storage,
    Cable,
    Thermal,
    Stability,
    Graphics,
    Software,
    Memory,
    Battery,
    Startup,
}

/// One issue found, with what showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub category: Category,
    pub title: String,
    pub description: String,
    pub fix_time_minutes: u32,
    pub auto_fixable: bool,
    /// The log lines, SMART attributes or facts behind it.
    pub evidence: Vec<String>,
}

impl Finding {
    pub fn new(
        severity: Severity,
        category: Category,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            category,
            title: title.into(),
            description: description.into(),
            fix_time_minutes: 10,
            auto_fixable: false,
            evidence: Vec::new(),
        }
    }

    pub fn minutes(mut self, minutes: u32) -> Self {
        self.fix_time_minutes = minutes;
        self
    }

    pub fn auto_fixable(mut self) -> Self {
        self.auto_fixable = true;
        self
    }

    pub fn with_evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }
}

/// A battery as the OS reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    pub cycle_count: Option<u32>,
    pub design_capacity_mah: Option<f64>,
    pub full_charge_capacity_mah: Option<f64>,
}

impl Battery {
    /// Full-charge capacity over design capacity, in %.
    pub fn health(&self) -> Option<f64> {
        match (self.design_capacity_mah, self.full_charge_capacity_mah) {
            (Some(design), Some(full)) if design > 0.0 => Some(100.0 * full / design),
            _ => None,
        }
    }
}

/// Temperatures in °C.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Temperatures {
    pub cpu_c: Option<f64>,
    pub gpu_c: Option<f64>,
}

/// A scan's input: the seed's fields, and what else a device agent can tell.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    pub device_id: String,
    pub os: String,
    pub cpu_cores: u32,
    pub ram_gb: f64,
    pub storage_gb: f64,
    #[serde(default)]
    pub logs: Option<String>,
    /// `smartctl --json -x` output, as an object or as its text.
    #[serde(default)]
    pub smart_data: Option<Value>,
    #[serde(default)]
    pub free_storage_gb: Option<f64>,
    #[serde(default)]
    pub startup_items: Option<Vec<String>>,
    #[serde(default)]
    pub temperatures: Option<Temperatures>,
    #[serde(default)]
    pub battery: Option<Battery>,
    /// Seconds from power on to a usable desktop, when the agent measured it.
    #[serde(default)]
    pub startup_seconds: Option<f64>,
}

/// Input that cannot be diagnosed: the field and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> BadInput {
    BadInput { field, message: message.into() }
}

/// The operating system family an `os` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Macos,
    Windows,
    Linux,
    Chromeos,
    Ios,
    Android,
}

pub fn os_family(os: &str) -> Option<Os> {
    let o = os.to_ascii_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| o.contains(x));
    Some(if has(&["macos", "mac os", "os x", "osx"]) {
        Os::Macos
    } else if has(&["windows", "win10", "win11"]) {
        Os::Windows
    } else if has(&["ipados", "ios"]) {
        Os::Ios
    } else if has(&["android"]) {
        Os::Android
    } else if has(&["chromeos", "chrome os"]) {
        Os::Chromeos
    } else if has(&["linux", "ubuntu", "debian", "fedora", "arch", "mint", "centos", "rhel", "suse", "pop!_os"]) {
        Os::Linux
    } else {
        return None;
    })
}

impl ScanInput {
    /// The input for a scan of `device_id`: the caller's fields, completed from what the
    /// device's record knows (its `os` and the `cpu_cores`, `ram_gb`, `storage_gb` of its
    /// specs), then checked. A field of the wrong type or missing from both is named.
    pub fn for_device(
        given: Option<serde_json::Map<String, Value>>,
        device_id: &str,
        device_os: Option<&str>,
        device_specs: &Value,
    ) -> Result<ScanInput, BadInput> {
        let mut fields = given.unwrap_or_default();
        match fields.get("device_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if id == device_id => {}
            Some(_) => {
                return Err(bad("device_id", format!("this scan is of device {device_id}: leave device_id out")))
            }
        }
        fields.insert("device_id".into(), device_id.into());
        if fields.get("os").is_none_or(Value::is_null) {
            match device_os {
                Some(os) if !os.trim().is_empty() => {
                    fields.insert("os".into(), os.into());
                }
                _ => return Err(bad("os", "os is required: send it, or record it on the device")),
            }
        }
        for field in ["cpu_cores", "ram_gb", "storage_gb"] {
            if fields.get(field).is_none_or(Value::is_null) {
                match device_specs.get(field).filter(|v| v.is_number()) {
                    Some(v) => {
                        fields.insert(field.into(), v.clone());
                    }
                    None => {
                        return Err(bad(
                            field,
                            format!("{field} is required: send it, or record it in the device's specs"),
                        ))
                    }
                }
            }
        }
        const NUMBERS: [&str; 5] = ["cpu_cores", "ram_gb", "storage_gb", "free_storage_gb", "startup_seconds"];
        for field in NUMBERS {
            if fields.get(field).is_some_and(|v| !v.is_number() && !v.is_null()) {
                return Err(bad(field, format!("{field} is a number")));
            }
        }
        if fields.get("cpu_cores").is_some_and(|v| v.as_u64().is_none_or(|n| n > 512)) {
            return Err(bad("cpu_cores", "cpu_cores is a whole number from 1 to 512"));
        }
        for field in ["os", "logs"] {
            if fields.get(field).is_some_and(|v| !v.is_string() && !v.is_null()) {
                return Err(bad(field, format!("{field} is text")));
            }
        }
        if fields
            .get("startup_items")
            .is_some_and(|v| !v.is_null() && !v.as_array().is_some_and(|items| items.iter().all(Value::is_string)))
        {
            return Err(bad("startup_items", "startup_items is a list of names"));
        }
        let input: ScanInput = serde_json::from_value(Value::Object(fields)).map_err(|e| {
            let message = e.to_string();
            let field = ["temperatures", "battery", "smart_data"].into_iter().find(|f| message.contains(f));
            bad(field.unwrap_or("body"), message)
        })?;
        input.validate()?;
        Ok(input)
    }

    /// [`ScanInput::check`] and the SMART data read through: everything a scan can refuse,
    /// refused before it is queued.
    pub fn validate(&self) -> Result<Os, BadInput> {
        let os = self.check()?;
        if let Some(data) = &self.smart_data {
            smart::read(data).map_err(|e| bad("smart_data", e.0))?;
        }
        Ok(os)
    }

    /// Refuses what cannot describe a real device, naming the field.
    pub fn check(&self) -> Result<Os, BadInput> {
        if self.device_id.trim().is_empty() {
            return Err(bad("device_id", "device_id is required"));
        }
        let os = os_family(&self.os)
            .ok_or_else(|| bad("os", format!("unknown operating system '{}': name macOS, Windows, Linux, ChromeOS, iOS or Android and its version", self.os)))?;
        if !(1..=512).contains(&self.cpu_cores) {
            return Err(bad("cpu_cores", "cpu_cores is a whole number from 1 to 512"));
        }
        if !(self.ram_gb.is_finite() && self.ram_gb > 0.0 && self.ram_gb <= 16_384.0) {
            return Err(bad("ram_gb", "ram_gb is above 0 and at most 16384"));
        }
        if !(self.storage_gb.is_finite() && self.storage_gb > 0.0 && self.storage_gb <= 1_000_000.0) {
            return Err(bad("storage_gb", "storage_gb is above 0 and at most 1000000"));
        }
        if let Some(free) = self.free_storage_gb {
            if !(free.is_finite() && free >= 0.0 && free <= self.storage_gb) {
                return Err(bad("free_storage_gb", "free_storage_gb is from 0 to storage_gb"));
            }
        }
        if self.logs.as_ref().is_some_and(|l| l.len() > MAX_LOG_BYTES) {
            return Err(bad("logs", format!("logs are at most {} KiB: send the last day's", MAX_LOG_BYTES / 1024)));
        }
        if let Some(t) = &self.temperatures {
            for (field, v) in [("temperatures.cpu_c", t.cpu_c), ("temperatures.gpu_c", t.gpu_c)] {
                if v.is_some_and(|v| !(v.is_finite() && (-40.0..=150.0).contains(&v))) {
                    return Err(bad(
                        if field.ends_with("cpu_c") { "temperatures.cpu_c" } else { "temperatures.gpu_c" },
                        "a temperature is from -40 to 150 °C",
                    ));
                }
            }
        }
        if self.startup_seconds.is_some_and(|s| !(s.is_finite() && s > 0.0 && s <= 3600.0)) {
            return Err(bad("startup_seconds", "startup_seconds is above 0 and at most 3600"));
        }
        if let Some(b) = &self.battery {
            let ok = |v: Option<f64>| v.is_none_or(|v| v.is_finite() && v > 0.0 && v <= 1_000_000.0);
            if !ok(b.design_capacity_mah) || !ok(b.full_charge_capacity_mah) {
                return Err(bad("battery", "battery capacities are positive mAh"));
            }
        }
        Ok(os)
    }
}

/// One part of the health score: its weight, what it scored (0–100) and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub factor: String,
    pub weight: f64,
    pub score: u32,
    pub detail: String,
}

/// The seed's output, plus how the score was made and the drive that was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub health_score: u32,
    pub issues: Vec<Finding>,
    pub recommendations: Vec<String>,
    /// The foresight engine's predictions from this scan alone (see [`foresight`]).
    pub predicted_failures: Vec<foresight::Prediction>,
    pub timestamp: String,
    pub score_factors: Vec<Factor>,
    pub os_family: Os,
    pub drive: Option<DriveSummary>,
    /// What the foresight engine keeps of this scan for the device's later forecasts.
    #[serde(skip)]
    pub observation: foresight::Observation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriveSummary {
    pub model: Option<String>,
    pub serial: Option<String>,
    pub protocol: String,
    pub smart_passed: Option<bool>,
    pub temperature_c: Option<i64>,
    pub power_on_hours: Option<i64>,
    pub counters: std::collections::BTreeMap<String, i64>,
}

/// The highest score a device with a critical finding gets (below "fair", 50).
pub const CRITICAL_CAP: u32 = 45;

/// The factors and their weights (they sum to 1). Storage health weighs most: it is where
/// data is lost.
const WEIGHTS: &[(&str, f64)] = &[
    ("storage_health", 0.35),
    ("stability", 0.20),
    ("storage_space", 0.15),
    ("thermal", 0.10),
    ("battery", 0.10),
    ("memory", 0.05),
    ("startup", 0.05),
];

fn factor_of(category: Category) -> &'static str {
    match category {
        Category::Storage | Category::Cable => "storage_health",
        Category::Stability | Category::Graphics | Category::Software => "stability",
        Category::Thermal => "thermal",
        Category::Battery => "battery",
        Category::Memory => "memory",
        Category::Startup => "startup",
    }
}

/// Diagnoses `input` (already [`ScanInput::check`]ed) at `now` (RFC 3339).
pub fn diagnose(input: &ScanInput, now: &str) -> Result<Diagnosis, BadInput> {
    let os = input.check()?;
    let mut issues = Vec::new();
    let drive = match &input.smart_data {
        Some(data) => Some(smart::read(data).map_err(|e| bad("smart_data", e.0))?),
        None => None,
    };
    if let Some(d) = &drive {
        issues.extend(d.findings.iter().cloned());
    }
    if let Some(text) = &input.logs {
        issues.extend(logs::scan(text));
    }
    issues.extend(facts(input));
    issues.sort_by_key(|f| std::cmp::Reverse(f.severity));

    let score_factors: Vec<Factor> = WEIGHTS
        .iter()
        .map(|(name, weight)| {
            let mine: Vec<&Finding> = issues.iter().filter(|f| factor_of(f.category) == *name).collect();
            // Each issue takes its share; a critical one caps the factor low.
            let mut score: i64 = 100;
            for f in &mine {
                score -= match f.severity {
                    Severity::Critical => 60,
                    Severity::Warning => 25,
                    Severity::Info => 5,
                };
            }
            if mine.iter().any(|f| f.severity == Severity::Critical) {
                score = score.min(20);
            }
            let detail = if mine.is_empty() {
                "nothing found".to_owned()
            } else {
                mine.iter().map(|f| f.title.as_str()).collect::<Vec<_>>().join("; ")
            };
            Factor { factor: (*name).to_owned(), weight: *weight, score: score.clamp(0, 100) as u32, detail }
        })
        .collect();
    let weighted: f64 = score_factors.iter().map(|f| f.weight * f64::from(f.score)).sum();
    let mut health_score = weighted.round().clamp(0.0, 100.0) as u32;
    // A critical finding (a failing drive, kernel panics) makes the device poor whatever
    // else is well: the weighted sum alone would call a dying disk "fair".
    if issues.iter().any(|f| f.severity == Severity::Critical) {
        health_score = health_score.min(CRITICAL_CAP);
    }

    let mut recommendations: Vec<String> = Vec::new();
    for f in &issues {
        let r = recommendation(f);
        if !recommendations.iter().any(|x| x == r) {
            recommendations.push(r.to_owned());
        }
    }
    let at = chrono::DateTime::parse_from_rfc3339(now).map(|t| t.timestamp()).unwrap_or(0);
    let observation = foresight::Observation {
        at,
        counters: drive
            .as_ref()
            .map(|d| d.counters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
            .unwrap_or_default(),
        drive_temperature_c: drive.as_ref().and_then(|d| d.temperature_c).map(|t| t as f64),
        battery_health: input.battery.as_ref().and_then(Battery::health),
    };
    let predicted_failures = foresight::forecast(std::slice::from_ref(&observation), at).predictions;
    Ok(Diagnosis {
        health_score,
        issues,
        recommendations,
        predicted_failures,
        timestamp: now.to_owned(),
        score_factors,
        os_family: os,
        observation,
        drive: drive.map(|d| DriveSummary {
            model: d.model,
            serial: d.serial,
            protocol: d.protocol,
            smart_passed: d.passed,
            temperature_c: d.temperature_c,
            power_on_hours: d.power_on_hours,
            counters: d.counters.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }),
    })
}

/// Findings from the device's own facts: space, memory, temperatures, battery, startup.
fn facts(input: &ScanInput) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(free) = input.free_storage_gb {
        let used = 100.0 * (1.0 - free / input.storage_gb);
        let evidence = format!("{free:.1} GB free of {:.0} GB", input.storage_gb);
        if used >= 95.0 {
            out.push(
                Finding::new(
                    Severity::Critical,
                    Category::Storage,
                    format!("Storage {used:.0}% full"),
                    format!("{free:.1} GB available: the system cannot update or swap. Free space now."),
                )
                .minutes(15)
                .auto_fixable()
                .with_evidence(evidence),
            );
        } else if used >= 85.0 {
            out.push(
                Finding::new(
                    Severity::Warning,
                    Category::Storage,
                    format!("Storage {used:.0}% full"),
                    format!("{free:.1} GB available. Consider cleanup."),
                )
                .minutes(5)
                .auto_fixable()
                .with_evidence(evidence),
            );
        }
    }
    if input.ram_gb < 4.0 {
        out.push(
            Finding::new(
                Severity::Warning,
                Category::Memory,
                format!("Only {} GB of memory", input.ram_gb),
                "Current systems and browsers need 8 GB to run smoothly: an upgrade helps most.",
            )
            .minutes(30),
        );
    }
    if let Some(t) = &input.temperatures {
        if let Some(c) = t.cpu_c.filter(|c| *c >= 90.0) {
            out.push(
                Finding::new(
                    Severity::Warning,
                    Category::Thermal,
                    format!("Processor at {c:.0} °C"),
                    "Near its throttling point: clean the fans, renew thermal paste.",
                )
                .minutes(45)
                .with_evidence(format!("cpu_c = {c}")),
            );
        }
        if let Some(c) = t.gpu_c.filter(|c| *c >= 90.0) {
            out.push(
                Finding::new(
                    Severity::Warning,
                    Category::Thermal,
                    format!("Graphics processor at {c:.0} °C"),
                    "Too hot under load: check its fan and heatsink.",
                )
                .minutes(45)
                .with_evidence(format!("gpu_c = {c}")),
            );
        }
    }
    if let Some(b) = &input.battery {
        if let (Some(design), Some(full)) = (b.design_capacity_mah, b.full_charge_capacity_mah) {
            let health = 100.0 * full / design;
            let evidence = format!(
                "full charge {full:.0} mAh of {design:.0} mAh designed, {} cycles",
                b.cycle_count.map_or("?".into(), |c| c.to_string())
            );
            // Laptop makers call a battery worn below 80 % of its design capacity.
            if health < 60.0 {
                out.push(
                    Finding::new(
                        Severity::Critical,
                        Category::Battery,
                        format!("Battery at {health:.0}% of its capacity"),
                        "Replace the battery: it no longer holds a useful charge and may swell.",
                    )
                    .minutes(30)
                    .with_evidence(evidence),
                );
            } else if health < 80.0 {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        Category::Battery,
                        format!("Battery at {health:.0}% of its capacity"),
                        "The battery is worn: plan a replacement.",
                    )
                    .minutes(30)
                    .with_evidence(evidence),
                );
            }
        }
    }
    if let Some(items) = input.startup_items.as_ref().filter(|i| i.len() > 5) {
        out.push(
            Finding::new(
                Severity::Info,
                Category::Startup,
                format!("{} startup items", items.len()),
                format!("Slowing boot time by ~{} seconds", items.len() * 4),
            )
            .minutes(2)
            .auto_fixable()
            .with_evidence(items.join(", ")),
        );
    }
    out
}

fn recommendation(f: &Finding) -> &'static str {
    match (f.category, f.severity) {
        (Category::Storage, Severity::Critical) => "Back up now and replace the drive",
        (Category::Storage, _) if f.title.starts_with("Storage") => {
            "Clear cache files and move large files off the disk"
        }
        (Category::Storage, _) => "Back up and re-test the drive at the next visit",
        (Category::Cable, _) => "Reseat or replace the drive's cable",
        (Category::Thermal, _) => "Clean the fans and heatsink and renew the thermal paste",
        (Category::Stability, _) => "Test memory and storage, and update drivers",
        (Category::Graphics, _) => "Update the graphics driver and check the GPU's cooling",
        (Category::Software, _) => "Install pending system updates",
        (Category::Memory, _) => "Add memory",
        (Category::Battery, _) => "Replace the battery",
        (Category::Startup, _) => "Disable startup bloat",
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/data/smartctl/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or(Value::Null)
    }

    pub fn input(smart: Option<Value>, logs: Option<&str>) -> ScanInput {
        ScanInput {
            device_id: "dev_1".into(),
            os: "macOS 14.1".into(),
            cpu_cores: 8,
            ram_gb: 16.0,
            storage_gb: 512.0,
            logs: logs.map(str::to_owned),
            smart_data: smart,
            free_storage_gb: None,
            startup_items: None,
            temperatures: None,
            battery: None,
            startup_seconds: None,
        }
    }

    pub const NOW: &str = "2026-11-24T10:30:00Z";
}

#[cfg(test)]
mod tests {
    use super::tests_support::{fixture, input, NOW};
    use super::*;

    #[test]
    fn a_healthy_machine_scores_full_marks() {
        let d = diagnose(&input(Some(fixture("smart-ata-full")), Some("nothing to see\n")), NOW)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(d.health_score, 100);
        assert!(d.issues.is_empty());
        assert!(d.predicted_failures.is_empty());
        assert!((d.score_factors.iter().map(|f| f.weight).sum::<f64>() - 1.0).abs() < 1e-9, "weights sum to 1");
        assert_eq!(d.timestamp, NOW);
        assert_eq!(d.drive.as_ref().and_then(|d| d.power_on_hours), Some(14_551));
    }

    #[test]
    fn a_failing_drive_sinks_the_score_and_is_predicted_to_fail() {
        // The real failing Hitachi (tests/data/smartctl/README.md) and a kernel I/O error.
        let logs = "blk_update_request: I/O error, dev sda, sector 2048";
        let d = diagnose(&input(Some(fixture("smart-fail2")), Some(logs)), NOW).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(d.health_score <= CRITICAL_CAP, "a critical finding makes it poor: {}", d.health_score);
        assert_eq!(d.issues[0].severity, Severity::Critical, "most severe first");
        assert_eq!(d.predicted_failures.len(), 1);
        assert_eq!(d.predicted_failures[0].component, "storage");
        assert_eq!(d.recommendations[0], "Back up now and replace the drive");
        let storage = d.score_factors.iter().find(|f| f.factor == "storage_health").map(|f| f.score);
        assert_eq!(storage, Some(0));
    }

    #[test]
    fn the_seeds_example_storage_and_startup() {
        let mut i = input(None, None);
        i.free_storage_gb = Some(15.0 * 512.0 / 100.0);
        i.startup_items = Some((0..8).map(|n| format!("Helper {n}")).collect());
        let d = diagnose(&i, NOW).unwrap_or_else(|e| panic!("{e:?}"));
        let titles: Vec<&str> = d.issues.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(titles, vec!["Storage 85% full", "8 startup items"]);
        assert!(d.issues.iter().all(|f| f.auto_fixable));
        assert!(d.health_score < 100 && d.health_score >= 80, "{}", d.health_score);
        let json = serde_json::to_value(&d).unwrap_or_default();
        for key in ["health_score", "issues", "recommendations", "predicted_failures", "timestamp"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        for key in ["severity", "category", "title", "description", "fix_time_minutes", "auto_fixable"] {
            assert!(json["issues"][0].get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn absurd_input_names_its_field() {
        let mut i = input(None, None);
        i.cpu_cores = 1_000_000_000;
        assert_eq!(diagnose(&i, NOW).err().map(|e| e.field), Some("cpu_cores"));
        let mut i = input(None, None);
        i.ram_gb = -4.0;
        assert_eq!(diagnose(&i, NOW).err().map(|e| e.field), Some("ram_gb"));
        let mut i = input(None, None);
        i.os = "TempleOS".into();
        assert_eq!(diagnose(&i, NOW).err().map(|e| e.field), Some("os"));
        let i = input(Some(Value::String("{\"smartctl\":".into())), None);
        assert_eq!(diagnose(&i, NOW).err().map(|e| e.field), Some("smart_data"));
        let i = input(None, Some(&"x".repeat(MAX_LOG_BYTES + 1)));
        assert_eq!(diagnose(&i, NOW).err().map(|e| e.field), Some("logs"));
    }

    #[test]
    fn a_worn_battery_is_a_predicted_failure() {
        let mut i = input(None, None);
        i.battery = Some(Battery {
            cycle_count: Some(1100),
            design_capacity_mah: Some(5000.0),
            full_charge_capacity_mah: Some(2500.0),
        });
        let d = diagnose(&i, NOW).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(d.predicted_failures.first().map(|p| p.component.as_str()), Some("battery"));
        assert!(d.issues[0].evidence[0].contains("1100 cycles"));
    }

    #[test]
    fn a_scan_takes_what_the_body_lacks_from_the_device_record_and_names_what_is_missing() {
        let specs = serde_json::json!({ "cpu_cores": 8, "ram_gb": 16, "storage_gb": 512 });
        let input =
            ScanInput::for_device(None, "dev_1", Some("macOS 14.1"), &specs).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((input.device_id.as_str(), input.cpu_cores), ("dev_1", 8));
        let none = serde_json::json!({});
        let err = ScanInput::for_device(None, "dev_1", Some("macOS 14.1"), &none).err();
        assert_eq!(err.map(|e| e.field), Some("cpu_cores"));
        let body = |v: Value| v.as_object().cloned();
        let err = ScanInput::for_device(body(serde_json::json!({ "ram_gb": "lots" })), "dev_1", Some("Linux"), &specs);
        assert_eq!(err.err().map(|e| e.field), Some("ram_gb"));
        let err = ScanInput::for_device(
            body(serde_json::json!({ "cpu_cores": 1_000_000_000 })),
            "dev_1",
            Some("Linux"),
            &specs,
        );
        assert_eq!(err.err().map(|e| e.field), Some("cpu_cores"));
        let err =
            ScanInput::for_device(body(serde_json::json!({ "device_id": "dev_2" })), "dev_1", Some("Linux"), &specs);
        assert_eq!(err.err().map(|e| e.field), Some("device_id"));
        let truncated = serde_json::json!({ "smart_data": "{\"smartctl\": {\"version\": [7, 3]" });
        let err = ScanInput::for_device(body(truncated), "dev_1", Some("Linux"), &specs);
        assert_eq!(err.err().map(|e| e.field), Some("smart_data"));
    }
}
