//! What a device's logs say: kernel panics, disk I/O errors, filesystem corruption,
//! thermal throttling, GPU resets, crash loops and failed updates, each with the lines
//! that show it. Reads macOS (`log show`, system.log), Windows (Event Log exported as text
//! or XML) and Linux (journal, dmesg) text; the signatures below are the messages those
//! systems print (kernel and driver source strings, Windows event ids).

use std::collections::BTreeMap;

use super::{Category, Finding, Severity};

/// The most evidence lines kept per finding.
const EVIDENCE_LINES: usize = 5;
/// The most characters kept of one evidence line.
const EVIDENCE_CHARS: usize = 240;

struct Signature {
    kind: &'static str,
    /// Any of these (lower-case) in a line marks it.
    needles: &'static [&'static str],
    severity: Severity,
    category: Category,
    title: &'static str,
    description: &'static str,
    fix_minutes: u32,
}

const SIGNATURES: &[Signature] = &[
    Signature {
        kind: "kernel_panic",
        needles: &[
            "kernel panic",
            "panic(cpu",
            "bugcheck",
            "the computer has rebooted from a bugcheck",
            "<eventid>1001</eventid>",
            "kernel-power",
        ],
        severity: Severity::Critical,
        category: Category::Stability,
        title: "kernel panics",
        description: "The operating system crashed. Repeated panics point at failing memory, storage or a bad driver.",
        fix_minutes: 45,
    },
    Signature {
        kind: "disk_io_error",
        needles: &[
            "i/o error",
            "blk_update_request",
            "medium error",
            "unrecovered read error",
            "has a bad block",
            "failed command: read",
            "failed command: write",
            "<eventid>7</eventid>",
            "<eventid>153</eventid>",
        ],
        severity: Severity::Critical,
        category: Category::Storage,
        title: "disk read/write errors",
        description: "The system could not read or write the disk. Back up now and test the drive.",
        fix_minutes: 60,
    },
    Signature {
        kind: "filesystem_corruption",
        needles: &[
            "ext4-fs error",
            "xfs_corruption",
            "corruption of in-memory data detected",
            "btrfs: error",
            "btrfs error (device",
            "the file system structure on the disk is corrupt",
            "filesystem needs repair",
            "fsck_apfs",
            "invalid node structure",
            "<eventid>55</eventid>",
        ],
        severity: Severity::Warning,
        category: Category::Storage,
        title: "file system corruption",
        description: "The file system reported damage. Run a repair (fsck, First Aid, chkdsk) after a backup.",
        fix_minutes: 30,
    },
    Signature {
        kind: "thermal_throttling",
        needles: &[
            "temperature above threshold",
            "cpu clock throttled",
            "thermal pressure",
            "cpu_speed_limit",
            "thermal level",
            "is being limited by system firmware",
            "prochot",
        ],
        severity: Severity::Warning,
        category: Category::Thermal,
        title: "thermal throttling",
        description: "The processor slowed itself down to cool off: clean the fans and heatsink, renew thermal paste.",
        fix_minutes: 45,
    },
    Signature {
        kind: "gpu_reset",
        needles: &[
            "gpu reset",
            "gpu hang",
            "nvrm: xid",
            "gpu restart",
            "stopped responding and has successfully recovered",
            "ring gfx timeout",
        ],
        severity: Severity::Warning,
        category: Category::Graphics,
        title: "graphics processor resets",
        description: "The GPU stopped responding and was reset: a driver, overheating or a failing GPU.",
        fix_minutes: 30,
    },
    Signature {
        kind: "failed_update",
        needles: &[
            "installation failure",
            "dpkg: error processing",
            "failed to install",
            "update failed",
            "softwareupdated",
        ],
        severity: Severity::Info,
        category: Category::Software,
        title: "failed updates",
        description: "An update did not install. Retry it; an out-of-date system misses fixes.",
        fix_minutes: 20,
    },
];

/// Crashes of one program before it counts as a crash loop.
const CRASH_LOOP: usize = 3;

/// The findings in `text`, at most one per kind (with how many lines showed it).
pub fn scan(text: &str) -> Vec<Finding> {
    let mut hits: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut crashes: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        for (i, sig) in SIGNATURES.iter().enumerate() {
            // "softwareupdated" alone is chatter: only its failures count.
            if sig.kind == "failed_update" && lower.contains("softwareupdated") && !lower.contains("fail") {
                continue;
            }
            // macOS reports its thermal pressure at every level: nominal (0) and moderate
            // (1) are no throttling, nor is a CPU speed limit of 100 %.
            if sig.kind == "thermal_throttling" && thermally_fine(&lower) {
                continue;
            }
            if sig.needles.iter().any(|n| lower.contains(n)) {
                hits.entry(i).or_default().push(line);
            }
        }
        if let Some(program) = crashed_program(line, &lower) {
            crashes.entry(program).or_default().push(line);
        }
    }
    let mut findings: Vec<Finding> = hits
        .into_iter()
        .map(|(i, lines)| {
            let sig = &SIGNATURES[i];
            let n = lines.len();
            Finding::new(sig.severity, sig.category, titled(sig.title, n), sig.description)
                .minutes(sig.fix_minutes)
                .with_lines(&lines)
        })
        .collect();
    for (program, lines) in crashes.into_iter().filter(|(_, l)| l.len() >= CRASH_LOOP) {
        findings.push(
            Finding::new(
                Severity::Warning,
                Category::Stability,
                format!("{program} crashed {} times", lines.len()),
                "A program that keeps crashing: reinstall or update it, or remove it from startup.",
            )
            .minutes(15)
            .auto_fixable()
            .with_lines(&lines),
        );
    }
    findings
}

/// Whether a thermal line says all is well: macOS' `Thermal pressure state: 0|1` (nominal,
/// moderate; heavy is 2 and up) or `thermal level 0`, and `CPU_Speed_Limit = 100`.
fn thermally_fine(lower: &str) -> bool {
    let level_after = |key: &str| -> Option<u32> {
        let at = lower.find(key)? + key.len();
        lower[at..].trim_start_matches([' ', ':', '=', '\t']).chars().next()?.to_digit(10)
    };
    let speed = lower.find("cpu_speed_limit").map(|at| {
        let rest = lower[at + "cpu_speed_limit".len()..].trim_start_matches([' ', ':', '=', '\t']);
        rest.starts_with("100")
    });
    level_after("thermal pressure state").is_some_and(|l| l < 2)
        || level_after("thermal level").is_some_and(|l| l == 0)
        || speed == Some(true)
}

/// The program a crash line names: systemd's "<unit>: Main process exited, code=dumped",
/// Windows' "Faulting application name: <exe>", macOS' "<Name> crashed" / "Saved crash
/// report for <Name>".
fn crashed_program(line: &str, lower: &str) -> Option<String> {
    let word = |s: &str| s.split([',', ' ', '[', '(']).find(|w| !w.is_empty()).map(str::to_owned);
    if let Some(at) = lower.find("faulting application name:") {
        return word(line[at + "faulting application name:".len()..].trim());
    }
    if lower.contains("main process exited, code=dumped") {
        let before = &line[..lower.find(": main process exited")?];
        return before.rsplit(' ').next().map(str::to_owned);
    }
    if let Some(at) = lower.find("saved crash report for ") {
        return word(&line[at + "saved crash report for ".len()..]);
    }
    None
}

impl Finding {
    fn with_lines(mut self, lines: &[&str]) -> Finding {
        self.evidence = lines
            .iter()
            .take(EVIDENCE_LINES)
            .map(|l| {
                if l.chars().count() > EVIDENCE_CHARS {
                    l.chars().take(EVIDENCE_CHARS).collect()
                } else {
                    (*l).to_owned()
                }
            })
            .collect();
        self
    }
}

/// `disk read/write errors`, 1 → `Disk read/write errors in the logs (1 line)`.
fn titled(title: &str, lines: usize) -> String {
    let mut chars = title.chars();
    let head: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    format!("{head}{} in the logs ({lines} {})", chars.as_str(), if lines == 1 { "line" } else { "lines" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|f| f.title).collect()
    }

    #[test]
    fn macos_thermal_pressure_counts_only_when_heavy() {
        // The lines in the form macOS' CDScheduler and pmset print them. A real MacBook's
        // system.log (LogPAI loghub's Mac sample, whose research-only licence keeps it out
        // of this repository) reports its pressure state dozens of times a day at 0
        // (nominal) and 1 (moderate), which is not throttling.
        let calm = "\
Jul  1 09:01:05 mac com.apple.CDScheduler[43]: Thermal pressure state: 1 Memory pressure state: 0
Jul  1 09:41:54 mac com.apple.CDScheduler[258]: Thermal pressure state: 0 Memory pressure state: 0
CPU_Speed_Limit \t= 100";
        assert!(kinds(calm).is_empty(), "{:?}", kinds(calm));
        let hot = "\
Jul  1 14:02:11 mac com.apple.CDScheduler[43]: Thermal pressure state: 2 Memory pressure state: 0
CPU_Speed_Limit \t= 62";
        assert_eq!(kinds(hot), ["Thermal throttling in the logs (2 lines)"]);
    }

    #[test]
    fn linux_dmesg_disk_errors_and_throttling() {
        // Lines in the form the Linux kernel prints them (block layer, libata, ext4, x86
        // thermal throttle driver).
        let dmesg = "\
[ 1034.512311] ata1.00: failed command: READ FPDMA QUEUED
[ 1034.512322] blk_update_request: I/O error, dev sda, sector 123456 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0
[ 1034.600001] EXT4-fs error (device sda2): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0
[ 2201.000102] CPU3: Core temperature above threshold, cpu clock throttled (total events = 1)
[ 2201.000110] CPU1: Package temperature above threshold, cpu clock throttled (total events = 1)";
        let found = scan(dmesg);
        let titles: Vec<&str> = found.iter().map(|f| f.title.as_str()).collect();
        assert!(titles.contains(&"Disk read/write errors in the logs (2 lines)"), "{titles:?}");
        assert!(titles.contains(&"File system corruption in the logs (1 line)"), "{titles:?}");
        assert!(titles.contains(&"Thermal throttling in the logs (2 lines)"), "{titles:?}");
        let io = found.iter().find(|f| f.title.contains("Disk")).map(|f| f.evidence.clone()).unwrap_or_default();
        assert!(io[1].contains("dev sda, sector 123456"));
        assert_eq!(found.iter().find(|f| f.title.contains("Disk")).map(|f| f.severity), Some(Severity::Critical));
    }

    #[test]
    fn macos_panics_gpu_restarts_and_a_crash_loop() {
        let log = "\
2025-11-30 09:12:01.000 kernel[0]: panic(cpu 2 caller 0xffffff8012a4c0): \"AppleIntelCPUPowerManagement: initialization failed\"
2025-11-30 09:40:10.120 WindowServer[144]: GPU Restart (error 0x2)
2025-11-30 10:00:00.000 ReportCrash[501]: Saved crash report for Photoshop[2231] version 25.1 to /Library/Logs/DiagnosticReports
2025-11-30 10:05:00.000 ReportCrash[501]: Saved crash report for Photoshop[2240] version 25.1 to /Library/Logs/DiagnosticReports
2025-11-30 10:09:00.000 ReportCrash[501]: Saved crash report for Photoshop[2251] version 25.1 to /Library/Logs/DiagnosticReports";
        let titles = kinds(log);
        assert!(titles.contains(&"Kernel panics in the logs (1 line)".to_owned()), "{titles:?}");
        assert!(titles.contains(&"Graphics processor resets in the logs (1 line)".to_owned()), "{titles:?}");
        assert!(titles.contains(&"Photoshop crashed 3 times".to_owned()), "{titles:?}");
    }

    #[test]
    fn windows_events_as_text_and_xml() {
        let text = "\
Log Name: System  Source: Microsoft-Windows-Kernel-Power  Event ID: 41  Level: Critical
Description: The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000009f
Log Name: System Source: disk Event ID: 7 Description: The device, \\Device\\Harddisk0\\DR0, has a bad block.
Faulting application name: chrome.exe, version: 120.0.6099.130
Faulting application name: chrome.exe, version: 120.0.6099.130
Faulting application name: chrome.exe, version: 120.0.6099.130
<Event><System><Provider Name='Microsoft-Windows-WindowsUpdateClient'/><EventID>20</EventID></System><EventData>Installation Failure: Windows failed to install the following update with error 0x80070643</EventData></Event>";
        let titles = kinds(text);
        assert!(titles.iter().any(|t| t.starts_with("Kernel panics in the logs")), "{titles:?}");
        assert!(titles.contains(&"Disk read/write errors in the logs (1 line)".to_owned()), "{titles:?}");
        assert!(titles.contains(&"chrome.exe crashed 3 times".to_owned()), "{titles:?}");
        assert!(titles.contains(&"Failed updates in the logs (1 line)".to_owned()), "{titles:?}");
    }

    #[test]
    fn quiet_logs_say_nothing_and_evidence_is_bounded() {
        assert!(scan("Nov 30 10:00:00 host systemd[1]: Started Daily apt upgrade.\n").is_empty());
        let flood = "blk_update_request: I/O error, dev sdb\n".repeat(50);
        let found = scan(&flood);
        assert_eq!(found[0].title, "Disk read/write errors in the logs (50 lines)");
        assert_eq!(found[0].evidence.len(), EVIDENCE_LINES);
    }

    #[test]
    fn systemd_crash_loops_name_the_unit() {
        let journal = "\
Nov 30 10:00:01 host systemd[1]: myapp.service: Main process exited, code=dumped, status=11/SEGV
Nov 30 10:00:03 host systemd[1]: myapp.service: Main process exited, code=dumped, status=11/SEGV
Nov 30 10:00:05 host systemd[1]: myapp.service: Main process exited, code=dumped, status=11/SEGV";
        assert_eq!(kinds(journal), vec!["myapp.service crashed 3 times".to_owned()]);
    }

    /// A real journal excerpt (Linux Mint forums; see tests/data/logs/README.md).
    #[test]
    fn a_real_journal_with_a_failing_raid_disk_shows_io_errors_and_corruption() {
        let text = include_str!("../../tests/data/logs/linux-journal-io-errors.log");
        let found = scan(text);
        let io = found.iter().find(|f| f.title.starts_with("Disk read/write errors"));
        let io = io.unwrap_or_else(|| panic!("no I/O finding in {found:?}"));
        assert_eq!(io.severity, Severity::Critical);
        assert!(io.evidence.iter().any(|e| e.contains("sector 337736")), "{:?}", io.evidence);
        assert!(found.iter().any(|f| f.title.starts_with("File system corruption")), "{found:?}");
    }
}
