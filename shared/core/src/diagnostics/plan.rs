//! The repair plan a diagnosis calls for — ordered steps with their time, parts and the
//! job's complexity, which `pricing` turns into a quote — and the built-in engine's plain
//! summary of a scan (a language model may write a better one; the numbers stay these).

use serde::{Deserialize, Serialize};

use super::{Category, Diagnosis, Finding, Severity};
use crate::pricing::Complexity;

/// One step of the work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub order: u32,
    pub title: String,
    pub category: Category,
    pub minutes: u32,
    /// Parts the step needs, by kind (the shop prices them from its own stock).
    pub parts: Vec<String>,
    /// The device agent can do it in a remote session (`POST /diagnostics/:id/fix`).
    pub auto_fixable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairPlan {
    pub steps: Vec<Step>,
    pub estimated_minutes: u32,
    pub complexity: Complexity,
    /// Every part the steps name, once.
    pub parts: Vec<String>,
}

/// What a finding needs besides time: the part a technician fits.
fn part_for(f: &Finding) -> Option<&'static str> {
    match (f.category, f.severity) {
        // A failing drive is replaced; a full one is cleaned.
        (Category::Storage, Severity::Critical) if !f.title.starts_with("Storage") => Some("replacement drive"),
        (Category::Cable, _) => Some("SATA data cable"),
        (Category::Battery, Severity::Critical | Severity::Warning) => Some("battery"),
        (Category::Thermal, _) => Some("thermal paste"),
        (Category::Memory, _) => Some("memory module"),
        _ => None,
    }
}

/// The work for step `f`: the finding's title as an instruction.
fn step_title(f: &Finding) -> String {
    match part_for(f) {
        Some("replacement drive") => format!("Back up the data and replace the drive ({})", f.title),
        Some(part) => format!("Fit a new {part} ({})", f.title),
        None if f.auto_fixable => format!("Fix: {}", f.title),
        None => format!("Investigate: {}", f.title),
    }
}

/// The plan for `d`'s issues, most severe first (the order the issues are already in);
/// informational findings that are not auto-fixable are left to the customer.
pub fn repair_plan(d: &Diagnosis) -> RepairPlan {
    let mut steps = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    for f in d.issues.iter().filter(|f| f.severity != Severity::Info || f.auto_fixable) {
        let step_parts: Vec<String> = part_for(f).map(str::to_owned).into_iter().collect();
        for p in &step_parts {
            if !parts.contains(p) {
                parts.push(p.clone());
            }
        }
        steps.push(Step {
            order: steps.len() as u32 + 1,
            title: step_title(f),
            category: f.category,
            minutes: f.fix_time_minutes,
            parts: step_parts,
            auto_fixable: f.auto_fixable,
        });
    }
    let estimated_minutes: u32 = steps.iter().map(|s| s.minutes).sum();
    let hardware = !parts.is_empty();
    // Faults, not symptoms: a dying drive shows in several SMART counters and in the logs.
    let mut critical: Vec<Category> = Vec::new();
    for f in d.issues.iter().filter(|f| f.severity == Severity::Critical) {
        if !critical.contains(&f.category) {
            critical.push(f.category);
        }
    }
    let critical = critical.len();
    // Software-only work is simple; a part makes it standard; a failing drive (data to
    // save) or several critical faults make it complex; long jobs with three or more
    // critical faults expert.
    let complexity = if estimated_minutes > 180 && critical >= 3 {
        Complexity::Expert
    } else if critical >= 2 || parts.iter().any(|p| p == "replacement drive") {
        Complexity::Complex
    } else if hardware || estimated_minutes > 60 {
        Complexity::Standard
    } else {
        Complexity::Simple
    };
    RepairPlan { steps, estimated_minutes, complexity, parts }
}

/// The built-in engine's summary: the score, what matters most, and what to do first.
pub fn summary(d: &Diagnosis, plan: &RepairPlan) -> String {
    let word = match d.health_score {
        80.. => "good",
        50..=79 => "fair",
        _ => "poor",
    };
    let mut s = format!("Health {}/100 ({word}).", d.health_score);
    let critical: Vec<&str> =
        d.issues.iter().filter(|f| f.severity == Severity::Critical).map(|f| f.title.as_str()).collect();
    let warnings = d.issues.iter().filter(|f| f.severity == Severity::Warning).count();
    match (critical.as_slice(), warnings) {
        ([], 0) if d.issues.is_empty() => s.push_str(" Nothing needs attention."),
        ([], 0) => s.push_str(" Only minor findings."),
        ([], n) => s.push_str(&format!(" {n} issue(s) to look at, none critical.")),
        (c, _) => s.push_str(&format!(" Critical: {}.", c.join("; "))),
    }
    if let Some(p) = d.predicted_failures.iter().max_by(|a, b| a.failure_probability.total_cmp(&b.failure_probability))
    {
        s.push_str(&format!(
            " The {} is {:.0}% likely to fail within {} days.",
            p.component.replace('_', " "),
            p.failure_probability * 100.0,
            p.timeline_days
        ));
    }
    if let Some(first) = plan.steps.first() {
        s.push_str(&format!(
            " First: {}. The plan takes about {} minutes{}.",
            first.title,
            plan.estimated_minutes,
            if plan.parts.is_empty() { String::new() } else { format!(" and needs: {}", plan.parts.join(", ")) }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::diagnose;
    use super::super::tests_support::{fixture, input, NOW};
    use super::*;

    #[test]
    fn a_failing_drive_plans_a_complex_drive_replacement_first() {
        let logs = "blk_update_request: I/O error, dev sda, sector 2048";
        let d = diagnose(&input(Some(fixture("smart-fail2")), Some(logs)), NOW).unwrap_or_else(|e| panic!("{e:?}"));
        let plan = repair_plan(&d);
        assert_eq!(plan.steps[0].order, 1);
        assert!(plan.steps[0].title.contains("replace the drive"), "{plan:?}");
        assert_eq!(plan.parts, vec!["replacement drive".to_owned()]);
        assert_eq!(plan.complexity, Complexity::Complex);
        assert_eq!(plan.estimated_minutes, plan.steps.iter().map(|s| s.minutes).sum::<u32>());
        let text = summary(&d, &plan);
        assert!(text.contains("(poor)") && text.contains("Critical:") && text.contains("likely to fail"), "{text}");
    }

    #[test]
    fn a_healthy_device_has_an_empty_simple_plan() {
        let d = diagnose(&input(Some(fixture("smart-nvme")), None), NOW).unwrap_or_else(|e| panic!("{e:?}"));
        let plan = repair_plan(&d);
        assert!(plan.steps.is_empty() && plan.parts.is_empty());
        assert_eq!(plan.complexity, Complexity::Simple);
        assert!(summary(&d, &plan).contains("Nothing needs attention"));
    }
}
