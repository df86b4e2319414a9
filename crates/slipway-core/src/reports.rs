//! The typed reports the built-in test stages write (`slipway/validate`, `slipway/evaluate`,
//! `slipway/model-tests`, `slipway/infra-tests`), and what the gate and the ML Test Score read
//! from them.
//!
//! Every report is a JSON object with a `format` tag, an overall `passed`, and a list of
//! [`Check`]s. [`ReportHeader`] reads those three from any of them; [`EvaluationReport`] is the
//! full evaluation (the gate compares two of them, and refuses when their holdouts differ:
//! [`same_holdout`]). [`score_evidence`] maps checks to the ML Test Score's tests.

use crate::Digest;
use crate::mltestscore::{Assessment, Status, UnknownTest};
use std::collections::BTreeMap;

/// Format tag of a data validation report.
pub const VALIDATION_FORMAT: &str = "slipway-validation-report/1";
/// Format tag of an evaluation report.
pub const EVALUATION_FORMAT: &str = "slipway-evaluation-report/1";
/// Format tag of a model tests report.
pub const MODEL_TESTS_FORMAT: &str = "slipway-model-tests-report/1";
/// Format tag of an infrastructure tests report.
pub const INFRA_TESTS_FORMAT: &str = "slipway-infra-tests-report/1";

/// How much a failed check matters.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fails the stage.
    #[default]
    Error,
    /// Recorded, does not fail the stage.
    Warn,
}

impl Level {
    /// `error` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
        }
    }
}

/// One check in a report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// What was checked, e.g. `converged`, `beats_baseline`, `reproducible`, or for data
    /// expectations `column:expectation`.
    pub id: String,
    /// Whether it held.
    pub passed: bool,
    /// Whether a failure fails the stage.
    #[serde(default)]
    pub level: Level,
    /// What was required, for people.
    #[serde(default)]
    pub expected: String,
    /// What was found, for people.
    #[serde(default)]
    pub observed: String,
}

impl Check {
    /// A check at `level`.
    pub fn new(
        id: impl Into<String>,
        passed: bool,
        level: Level,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            passed,
            level,
            expected: expected.into(),
            observed: observed.into(),
        }
    }

    /// Whether this check fails its stage (failed at error level).
    pub fn is_error(&self) -> bool {
        !self.passed && self.level == Level::Error
    }
}

/// What every report has: its format, the overall result and its checks.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct ReportHeader {
    /// The format tag.
    pub format: String,
    /// No error-level check failed.
    pub passed: bool,
    /// The checks.
    #[serde(default)]
    pub checks: Vec<Check>,
}

impl ReportHeader {
    /// Reads the header of a report document; `None` if it is not a slipway report.
    pub fn parse(text: &str) -> Option<ReportHeader> {
        let header: ReportHeader = serde_json::from_str(text).ok()?;
        [
            VALIDATION_FORMAT,
            EVALUATION_FORMAT,
            MODEL_TESTS_FORMAT,
            INFRA_TESTS_FORMAT,
        ]
        .contains(&header.format.as_str())
        .then_some(header)
    }
}

/// A dataset as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetRef {
    /// Its path in the project.
    pub path: String,
    /// The digest of its bytes.
    pub digest: Digest,
    /// Its number of rows.
    pub rows: u64,
}

/// A model as a report names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelRef {
    /// Its path in the project.
    pub path: String,
    /// The digest of its bytes.
    pub digest: Digest,
    /// `slipway-model/1` or `onnx`.
    pub format: String,
}

/// Prediction latency measured by running the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// Single-row predictions timed.
    pub samples: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// One group's numbers in a fairness breakdown.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupStats {
    /// Rows in the group.
    pub rows: u64,
    /// Share predicted positive.
    pub positive_rate: f64,
    /// True positive rate (NaN-free: `None` when the group has no positives).
    pub tpr: Option<f64>,
    /// Accuracy in the group.
    pub accuracy: f64,
}

/// The fairness gap between the groups of a column.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fairness {
    /// The column whose values are the groups.
    pub column: String,
    /// `positive_rate` (demographic parity) or `tpr` (equal opportunity).
    pub metric: String,
    /// Per group.
    pub groups: BTreeMap<String, GroupStats>,
    /// Largest minus smallest value of the metric over the groups.
    pub gap: f64,
}

/// A model's evaluation on a frozen holdout.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvaluationReport {
    /// Always [`EVALUATION_FORMAT`].
    pub format: String,
    /// The model evaluated.
    pub model: ModelRef,
    /// The holdout it was evaluated on.
    pub holdout: DatasetRef,
    /// The label column.
    pub label: String,
    /// `binary_classification` or `regression`.
    pub task: String,
    /// Named metrics (`auc`, `accuracy`, `log_loss`, `calibration_ece`, `fairness_gap`,
    /// `p50_latency_ms`, `p99_latency_ms`, `rmse`, `mae`, `r2`).
    pub metrics: BTreeMap<String, f64>,
    /// The fairness breakdown, when a group column was named.
    #[serde(default)]
    pub fairness: Option<Fairness>,
    /// Measured latency.
    pub latency: Latency,
    /// Threshold checks (`with: {min: …, max: …}`).
    pub checks: Vec<Check>,
    /// No error-level check failed.
    pub passed: bool,
}

/// Champion and challenger were not evaluated on the same holdout, so their metrics cannot be
/// compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "champion and challenger were evaluated on different holdouts: champion on {champion_path} ({champion}), challenger on {challenger_path} ({challenger}); evaluate both on the same frozen holdout"
)]
pub struct HoldoutMismatch {
    /// The champion's holdout digest.
    pub champion: Digest,
    /// Its path.
    pub champion_path: String,
    /// The challenger's holdout digest.
    pub challenger: Digest,
    /// Its path.
    pub challenger_path: String,
}

/// Whether two evaluations are comparable: same holdout bytes.
pub fn same_holdout(
    champion: &EvaluationReport,
    challenger: &EvaluationReport,
) -> Result<(), HoldoutMismatch> {
    if champion.holdout.digest == challenger.holdout.digest {
        Ok(())
    } else {
        Err(HoldoutMismatch {
            champion: champion.holdout.digest,
            champion_path: champion.holdout.path.clone(),
            challenger: challenger.holdout.digest,
            challenger_path: challenger.holdout.path.clone(),
        })
    }
}

/// Which ML Test Score test a report's checks are evidence for.
struct Rule {
    format: &'static str,
    /// Checks whose id is this, or starts with this followed by `:`; `*` = every check.
    check: &'static str,
    test: &'static str,
}

const RULES: &[Rule] = &[
    // Data 1: the schema and the expectations about every feature, checked on every run.
    Rule {
        format: VALIDATION_FORMAT,
        check: "*",
        test: "data-1",
    },
    // Model 5: a simple baseline does not do as well.
    Rule {
        format: MODEL_TESTS_FORMAT,
        check: "beats_baseline",
        test: "model-5",
    },
    // Model 6: quality on slices (per-group metrics of the evaluation).
    Rule {
        format: EVALUATION_FORMAT,
        check: "slices",
        test: "model-6",
    },
    // Model 7: fairness gap between groups.
    Rule {
        format: EVALUATION_FORMAT,
        check: "fairness_gap",
        test: "model-7",
    },
    // Infra 1: training reproduces.
    Rule {
        format: INFRA_TESTS_FORMAT,
        check: "reproducible",
        test: "infra-1",
    },
    // Infra 2: the model specification is tested (training converges).
    Rule {
        format: MODEL_TESTS_FORMAT,
        check: "converged",
        test: "infra-2",
    },
    // Infra 3: data to a model answering in the serving runtime, end to end.
    Rule {
        format: INFRA_TESTS_FORMAT,
        check: "servable",
        test: "infra-3",
    },
    // Infra 4: model quality is validated before serving (evaluation thresholds).
    Rule {
        format: EVALUATION_FORMAT,
        check: "threshold",
        test: "infra-4",
    },
    // Infra 7: rollback works.
    Rule {
        format: INFRA_TESTS_FORMAT,
        check: "rollback",
        test: "infra-7",
    },
];

/// What one report shows for one ML Test Score test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The test's id (`data-1`, …).
    pub test: &'static str,
    /// Every check bearing on it held (checks at warn level count as held).
    pub passing: bool,
    /// The report's digest.
    pub report: Digest,
}

/// The ML Test Score evidence in a set of reports: for each test some report bears on, whether
/// all its checks passed. A check that was skipped (not run) is absent from its report and
/// shows nothing. Later reports in `reports` do not override earlier ones; a test with evidence
/// in several reports passes only if it passes in all.
pub fn score_evidence(reports: &[(Digest, ReportHeader)]) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::new();
    for (digest, header) in reports {
        for rule in RULES.iter().filter(|r| r.format == header.format) {
            let relevant: Vec<&Check> = header
                .checks
                .iter()
                .filter(|c| {
                    rule.check == "*"
                        || c.id == rule.check
                        || c.id.starts_with(&format!("{}:", rule.check))
                })
                .collect();
            if relevant.is_empty() {
                continue;
            }
            let passing = relevant.iter().all(|c| !c.is_error());
            match out.iter_mut().find(|e| e.test == rule.test) {
                Some(e) => e.passing &= passing,
                None => out.push(Evidence {
                    test: rule.test,
                    passing,
                    report: *digest,
                }),
            }
        }
    }
    out
}

/// Builds an assessment: automated tests from `evidence`, then manual ones (test id → the
/// document with its results) where no automated evidence exists.
pub fn assess(
    evidence: &[Evidence],
    manual: &BTreeMap<String, String>,
) -> Result<Assessment, UnknownTest> {
    let mut a = Assessment::new();
    for (id, document) in manual {
        a.set(id, Status::Manual, Some(document))?;
    }
    for e in evidence {
        let status = if e.passing {
            Status::AutomatedPassing
        } else {
            Status::AutomatedFailing
        };
        a.set(e.test, status, Some(&e.report.to_hex()))?;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(format: &str, checks: &[(&str, bool, Level)]) -> ReportHeader {
        ReportHeader {
            format: format.into(),
            passed: checks.iter().all(|c| c.1 || c.2 == Level::Warn),
            checks: checks
                .iter()
                .map(|(id, passed, level)| Check::new(*id, *passed, *level, "", ""))
                .collect(),
        }
    }

    #[test]
    fn checks_map_to_tests_and_failures_show() {
        let d1 = Digest::of(b"validation");
        let d2 = Digest::of(b"model tests");
        let reports = vec![
            (
                d1,
                header(
                    VALIDATION_FORMAT,
                    &[
                        ("age:min", true, Level::Error),
                        ("age:max", false, Level::Warn),
                    ],
                ),
            ),
            (
                d2,
                header(
                    MODEL_TESTS_FORMAT,
                    &[
                        ("converged", true, Level::Error),
                        ("beats_baseline", false, Level::Error),
                        ("leakage", true, Level::Error),
                    ],
                ),
            ),
        ];
        let ev = score_evidence(&reports);
        let get = |t: &str| ev.iter().find(|e| e.test == t).cloned();
        assert!(get("data-1").unwrap().passing);
        assert_eq!(get("data-1").unwrap().report, d1);
        assert!(get("infra-2").unwrap().passing);
        assert!(!get("model-5").unwrap().passing);
        assert!(get("infra-1").is_none());
        let mut manual = BTreeMap::new();
        manual.insert("model-1".to_string(), "docs/review.md".to_string());
        manual.insert("model-5".to_string(), "docs/baseline.md".to_string());
        let score = assess(&ev, &manual).unwrap().score();
        let row = |id: &str| score.rows.iter().find(|r| r.id == id).unwrap().clone();
        assert_eq!(row("model-5").status, Status::AutomatedFailing);
        assert_eq!(row("model-1").status, Status::Manual);
        assert_eq!(row("data-1").evidence, Some(d1.to_hex()));
        assert!(assess(&ev, &BTreeMap::from([("x-1".into(), "d".into())])).is_err());
    }

    #[test]
    fn holdouts_must_match() {
        let report = |path: &str, bytes: &[u8]| EvaluationReport {
            format: EVALUATION_FORMAT.into(),
            model: ModelRef {
                path: "m.json".into(),
                digest: Digest::of(b"m"),
                format: "slipway-model/1".into(),
            },
            holdout: DatasetRef {
                path: path.into(),
                digest: Digest::of(bytes),
                rows: 10,
            },
            label: "y".into(),
            task: "binary_classification".into(),
            metrics: BTreeMap::new(),
            fairness: None,
            latency: Latency {
                samples: 1,
                p50_ms: 0.1,
                p99_ms: 0.2,
            },
            checks: vec![],
            passed: true,
        };
        let a = report("h.csv", b"1");
        assert!(same_holdout(&a, &report("other/h.csv", b"1")).is_ok());
        let err = same_holdout(&a, &report("h2.csv", b"2")).unwrap_err();
        assert!(err.to_string().contains("different holdouts"), "{err}");
        assert!(err.to_string().contains("h2.csv"), "{err}");
        let text = serde_json::to_string(&a).unwrap();
        assert!(ReportHeader::parse(&text).is_some());
        assert!(ReportHeader::parse(r#"{"format":"other","passed":true}"#).is_none());
    }
}
