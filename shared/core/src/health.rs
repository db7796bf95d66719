//! The `/health` answer every worker gives.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Exercised live and answered.
    Ok,
    /// Declared and present, but has no side-effect-free probe (queue producers).
    Bound,
    /// Not probed in this call (a service link, when the gateway probes every worker itself).
    Skipped,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub binding: String,
    pub kind: String,
    pub status: CheckStatus,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub service: String,
    pub version: String,
    /// `ok` when every check is ok, bound or skipped; `degraded` otherwise.
    pub status: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(service: String, version: &str, checks: Vec<Check>) -> Self {
        let healthy = checks.iter().all(|c| c.status != CheckStatus::Failed);
        Report {
            service,
            version: version.to_owned(),
            status: if healthy { "ok" } else { "degraded" }.to_owned(),
            checks,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: CheckStatus) -> Check {
        Check { binding: "DB".into(), kind: "d1".into(), status, latency_ms: 1, detail: None }
    }

    #[test]
    fn one_failed_check_degrades_the_report() {
        assert!(Report::new("x".into(), "1", vec![check(CheckStatus::Ok), check(CheckStatus::Bound)]).is_ok());
        assert!(!Report::new("x".into(), "1", vec![check(CheckStatus::Ok), check(CheckStatus::Failed)]).is_ok());
    }
}
