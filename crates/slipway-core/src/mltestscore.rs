//! The ML Test Score (Breck, Cai, Nielsen, Salib and Sculley, 2017, "The ML Test Score: A Rubric
//! for ML Production Readiness and Technical Debt Reduction"): 28 tests in four sections of
//! seven, and the score that says how production-ready a system is.
//!
//! The titles in [`TESTS`] are short paraphrases, not the paper's text. Each test of a model gets
//! a [`Status`] and optionally a reference to its evidence (a report artifact, a run, a
//! document). Scoring follows the paper: per section, half a point for a test run manually with
//! its results documented, one point for a test that runs automatically on a repeated basis; the
//! final score is the *minimum* over the sections, because a gap in any one area is what hurts.
//!
//! **Failing automated tests.** The paper rewards having a test in place, not its outcome, so an
//! automated test counts one point whether it currently passes or fails ([`ScoreReport::score`]).
//! A failing test is a finding, not a missing control; it is listed in
//! [`ScoreReport::failing`], and [`ScoreReport::passing_score`] gives the stricter score in
//! which failing tests count nothing, for policies that want it. A manual test counts only when
//! its documented results are referenced (evidence given); otherwise it counts nothing and is
//! named in [`ScoreReport::undocumented`].

use std::collections::BTreeMap;
use std::fmt;

/// The four sections of the rubric.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// Tests for features and data.
    Data,
    /// Tests for model development.
    Model,
    /// Tests for ML infrastructure.
    Infrastructure,
    /// Monitoring tests for ML.
    Monitoring,
}

impl Section {
    /// The sections, in the paper's order.
    pub const ALL: [Section; 4] = [
        Section::Data,
        Section::Model,
        Section::Infrastructure,
        Section::Monitoring,
    ];

    /// `data`, `model`, `infrastructure` or `monitoring`.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Data => "data",
            Section::Model => "model",
            Section::Infrastructure => "infrastructure",
            Section::Monitoring => "monitoring",
        }
    }

    /// The section's heading.
    pub fn title(self) -> &'static str {
        match self {
            Section::Data => "Features and data",
            Section::Model => "Model development",
            Section::Infrastructure => "ML infrastructure",
            Section::Monitoring => "Monitoring",
        }
    }

    /// The prefix of its tests' ids: `data`, `model`, `infra` or `monitor`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Section::Data => "data",
            Section::Model => "model",
            Section::Infrastructure => "infra",
            Section::Monitoring => "monitor",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One test of the rubric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestDef {
    /// Stable id, e.g. `data-1`, `infra-7`.
    pub id: &'static str,
    /// Its section.
    pub section: Section,
    /// Its number within the section, 1 to 7 (the paper's numbering).
    pub number: u8,
    /// A short title, in our own words.
    pub title: &'static str,
}

const fn t(id: &'static str, section: Section, number: u8, title: &'static str) -> TestDef {
    TestDef {
        id,
        section,
        number,
        title,
    }
}

/// The 28 tests, seven per section, in the paper's order.
pub const TESTS: [TestDef; 28] = [
    t(
        "data-1",
        Section::Data,
        1,
        "expectations about every feature are written down in a schema",
    ),
    t(
        "data-2",
        Section::Data,
        2,
        "every feature earns its place (each one adds predictive value)",
    ),
    t(
        "data-3",
        Section::Data,
        3,
        "no feature costs more (latency, memory, upkeep) than it is worth",
    ),
    t(
        "data-4",
        Section::Data,
        4,
        "features respect project-level rules (e.g. no forbidden or personal attributes)",
    ),
    t(
        "data-5",
        Section::Data,
        5,
        "the data pipeline enforces privacy controls",
    ),
    t(
        "data-6",
        Section::Data,
        6,
        "a new feature can be added to the system quickly",
    ),
    t(
        "data-7",
        Section::Data,
        7,
        "the code that computes input features has tests",
    ),
    t(
        "model-1",
        Section::Model,
        1,
        "every model specification is code-reviewed and kept in version control",
    ),
    t(
        "model-2",
        Section::Model,
        2,
        "offline evaluation metrics are known to track the online ones",
    ),
    t(
        "model-3",
        Section::Model,
        3,
        "every hyperparameter has been tuned",
    ),
    t(
        "model-4",
        Section::Model,
        4,
        "how quality decays as the model ages is measured",
    ),
    t(
        "model-5",
        Section::Model,
        5,
        "a simpler baseline model does not do as well",
    ),
    t(
        "model-6",
        Section::Model,
        6,
        "quality holds on the data slices that matter",
    ),
    t(
        "model-7",
        Section::Model,
        7,
        "the model is checked for fairness and inclusion",
    ),
    t(
        "infra-1",
        Section::Infrastructure,
        1,
        "training the same recipe again reproduces the model",
    ),
    t(
        "infra-2",
        Section::Infrastructure,
        2,
        "the model specification code has unit tests",
    ),
    t(
        "infra-3",
        Section::Infrastructure,
        3,
        "the whole pipeline, data to served model, has an integration test",
    ),
    t(
        "infra-4",
        Section::Infrastructure,
        4,
        "a model's quality is checked before it can serve",
    ),
    t(
        "infra-5",
        Section::Infrastructure,
        5,
        "a single example can be stepped through training or inference to debug",
    ),
    t(
        "infra-6",
        Section::Infrastructure,
        6,
        "a new model is canaried on a share of traffic before it takes all of it",
    ),
    t(
        "infra-7",
        Section::Infrastructure,
        7,
        "a serving model can be rolled back quickly and safely",
    ),
    t(
        "monitor-1",
        Section::Monitoring,
        1,
        "a change in an upstream dependency raises a notification",
    ),
    t(
        "monitor-2",
        Section::Monitoring,
        2,
        "the data invariants hold on training and on serving inputs",
    ),
    t(
        "monitor-3",
        Section::Monitoring,
        3,
        "features computed for training and for serving do not diverge",
    ),
    t(
        "monitor-4",
        Section::Monitoring,
        4,
        "the serving model is not older than it should be",
    ),
    t(
        "monitor-5",
        Section::Monitoring,
        5,
        "the model is numerically stable (no NaN or infinity in training or serving)",
    ),
    t(
        "monitor-6",
        Section::Monitoring,
        6,
        "training speed, serving latency, throughput and memory have not regressed",
    ),
    t(
        "monitor-7",
        Section::Monitoring,
        7,
        "prediction quality on served data has not regressed",
    ),
];

/// The test with id `id`.
pub fn test_by_id(id: &str) -> Option<&'static TestDef> {
    TESTS.iter().find(|t| t.id == id)
}

/// Where a test stands for one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Runs automatically on a repeated basis and currently passes.
    AutomatedPassing,
    /// Runs automatically on a repeated basis and currently fails.
    AutomatedFailing,
    /// Run by hand, with its results documented.
    Manual,
    /// Not run.
    Missing,
}

impl Status {
    /// `automated_passing`, `automated_failing`, `manual` or `missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AutomatedPassing => "automated_passing",
            Status::AutomatedFailing => "automated_failing",
            Status::Manual => "manual",
            Status::Missing => "missing",
        }
    }
}

/// One test's status for a model, with a reference to its evidence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    /// Where the test stands.
    pub status: Status,
    /// What shows it: an artifact digest, a run id, a document's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A test id that is not one of the 28.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown ML Test Score test `{0}`; ids are data-1..data-7, model-1..model-7, infra-1..infra-7, monitor-1..monitor-7"
)]
pub struct UnknownTest(pub String);

/// The statuses of the 28 tests for one model; tests not set are missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assessment {
    results: BTreeMap<String, TestResult>,
}

impl Assessment {
    /// Every test missing.
    pub fn new() -> Assessment {
        Assessment::default()
    }

    /// Records a test's status (replacing an earlier one).
    pub fn set(
        &mut self,
        id: &str,
        status: Status,
        evidence: Option<&str>,
    ) -> Result<(), UnknownTest> {
        let def = test_by_id(id).ok_or_else(|| UnknownTest(id.to_string()))?;
        self.results.insert(
            def.id.to_string(),
            TestResult {
                status,
                evidence: evidence.map(str::to_string),
            },
        );
        Ok(())
    }

    /// A test's status (missing when never set).
    pub fn get(&self, id: &str) -> TestResult {
        self.results.get(id).cloned().unwrap_or(TestResult {
            status: Status::Missing,
            evidence: None,
        })
    }

    /// Scores the assessment.
    pub fn score(&self) -> ScoreReport {
        let mut rows = Vec::with_capacity(TESTS.len());
        let mut half_points: BTreeMap<Section, (u32, u32)> = BTreeMap::new();
        let (mut failing, mut undocumented) = (Vec::new(), Vec::new());
        for def in &TESTS {
            let result = self.get(def.id);
            let (paper, passing) = match result.status {
                Status::AutomatedPassing => (2, 2),
                Status::AutomatedFailing => {
                    failing.push(def.id);
                    (2, 0)
                }
                Status::Manual if result.evidence.is_some() => (1, 1),
                Status::Manual => {
                    undocumented.push(def.id);
                    (0, 0)
                }
                Status::Missing => (0, 0),
            };
            let entry = half_points.entry(def.section).or_default();
            entry.0 += paper;
            entry.1 += passing;
            rows.push(ScoreRow {
                id: def.id,
                section: def.section,
                title: def.title,
                status: result.status,
                evidence: result.evidence,
                points: f64::from(paper) / 2.0,
            });
        }
        let sections: Vec<SectionScore> = Section::ALL
            .iter()
            .map(|&s| {
                let (paper, passing) = half_points[&s];
                SectionScore {
                    section: s,
                    points: f64::from(paper) / 2.0,
                    passing_points: f64::from(passing) / 2.0,
                }
            })
            .collect();
        let score = sections
            .iter()
            .map(|s| s.points)
            .fold(f64::INFINITY, f64::min);
        let passing_score = sections
            .iter()
            .map(|s| s.passing_points)
            .fold(f64::INFINITY, f64::min);
        let weakest = sections
            .iter()
            .filter(|s| s.points == score)
            .map(|s| s.section)
            .collect();
        ScoreReport {
            rows,
            sections,
            score,
            passing_score,
            weakest,
            failing,
            undocumented,
        }
    }
}

/// One test in a score report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScoreRow {
    /// The test's id.
    pub id: &'static str,
    /// Its section.
    pub section: Section,
    /// Its title.
    pub title: &'static str,
    /// Its status.
    pub status: Status,
    /// Its evidence.
    pub evidence: Option<String>,
    /// The points it earns (0, 0.5 or 1).
    pub points: f64,
}

/// One section's points.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SectionScore {
    /// The section.
    pub section: Section,
    /// Points as the paper counts them (0 to 7).
    pub points: f64,
    /// Points counting failing automated tests as nothing.
    pub passing_points: f64,
}

/// The ML Test Score of an assessment.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScoreReport {
    /// Every test, in the paper's order.
    pub rows: Vec<ScoreRow>,
    /// Every section's points, in the paper's order.
    pub sections: Vec<SectionScore>,
    /// The paper's final score: the minimum of the sections' points.
    pub score: f64,
    /// The same minimum with failing automated tests counted as nothing.
    pub passing_score: f64,
    /// The sections whose points are the score.
    pub weakest: Vec<Section>,
    /// Automated tests that currently fail.
    pub failing: Vec<&'static str>,
    /// Tests marked manual without documented results (counted as nothing).
    pub undocumented: Vec<&'static str>,
}

impl ScoreReport {
    /// The paper's reading of a final score.
    pub fn interpretation(&self) -> &'static str {
        interpret(self.score)
    }
}

/// The paper's reading of a final score: from "more of a research project than a productionized
/// system" (0) to "exceptional levels of automated testing and monitoring" (above 5).
pub fn interpret(score: f64) -> &'static str {
    if score <= 0.0 {
        "more of a research project than a productionized system"
    } else if score <= 1.0 {
        "not totally untested, but serious holes in reliability are likely"
    } else if score <= 2.0 {
        "a first pass at basic productionization, more investment may be needed"
    } else if score <= 3.0 {
        "reasonably tested, but more tests and procedures may be automated"
    } else if score <= 5.0 {
        "a strong level of automated testing and monitoring, appropriate for mission-critical systems"
    } else {
        "exceptional levels of automated testing and monitoring"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_eight_tests_seven_per_section_with_unique_ids() {
        assert_eq!(TESTS.len(), 28);
        for section in Section::ALL {
            let numbers: Vec<u8> = TESTS
                .iter()
                .filter(|t| t.section == section)
                .map(|t| t.number)
                .collect();
            assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6, 7], "{section}");
        }
        for def in &TESTS {
            assert_eq!(
                def.id,
                format!("{}-{}", def.section.id_prefix(), def.number)
            );
            assert!(!def.title.is_empty());
        }
    }

    #[test]
    fn nothing_done_scores_zero() {
        let report = Assessment::new().score();
        assert_eq!(report.score, 0.0);
        assert_eq!(report.weakest, Section::ALL.to_vec());
        assert_eq!(report.interpretation(), interpret(0.0));
        assert!(report.rows.iter().all(|r| r.status == Status::Missing));
    }

    #[test]
    fn score_is_the_minimum_over_sections() {
        let mut a = Assessment::new();
        // Data: 3 automated + 2 manual = 4 points.
        for id in ["data-1", "data-2", "data-7"] {
            a.set(id, Status::AutomatedPassing, Some("report:abc"))
                .unwrap();
        }
        a.set("data-3", Status::Manual, Some("doc://cost-review"))
            .unwrap();
        a.set("data-4", Status::Manual, Some("doc://rules"))
            .unwrap();
        // Model: 2 automated, one failing = 2 points (1 when failing counts nothing).
        a.set("model-5", Status::AutomatedPassing, None).unwrap();
        a.set("model-6", Status::AutomatedFailing, Some("report:slices"))
            .unwrap();
        // Infrastructure: 5 automated = 5.
        for n in 1..=5 {
            a.set(&format!("infra-{n}"), Status::AutomatedPassing, None)
                .unwrap();
        }
        // Monitoring: 3 manual, one undocumented = 1 point.
        a.set("monitor-2", Status::Manual, Some("doc://a")).unwrap();
        a.set("monitor-3", Status::Manual, Some("doc://b")).unwrap();
        a.set("monitor-7", Status::Manual, None).unwrap();
        let report = a.score();
        let points: Vec<f64> = report.sections.iter().map(|s| s.points).collect();
        assert_eq!(points, vec![4.0, 2.0, 5.0, 1.0]);
        let passing: Vec<f64> = report.sections.iter().map(|s| s.passing_points).collect();
        assert_eq!(passing, vec![4.0, 1.0, 5.0, 1.0]);
        assert_eq!(report.score, 1.0);
        assert_eq!(report.passing_score, 1.0);
        assert_eq!(report.weakest, vec![Section::Monitoring]);
        assert_eq!(report.failing, vec!["model-6"]);
        assert_eq!(report.undocumented, vec!["monitor-7"]);
        let row = report.rows.iter().find(|r| r.id == "data-3").unwrap();
        assert_eq!(row.points, 0.5);
        assert_eq!(row.evidence.as_deref(), Some("doc://cost-review"));
        // Lifting monitoring makes the failing model test the bottleneck for the strict score.
        for n in 1..=7 {
            a.set(&format!("monitor-{n}"), Status::AutomatedPassing, None)
                .unwrap();
        }
        let report = a.score();
        assert_eq!(report.score, 2.0);
        assert_eq!(report.passing_score, 1.0);
        assert_eq!(report.weakest, vec![Section::Model]);
        assert_eq!(report.interpretation(), interpret(2.0));
    }

    #[test]
    fn everything_automated_scores_seven() {
        let mut a = Assessment::new();
        for def in &TESTS {
            a.set(def.id, Status::AutomatedPassing, None).unwrap();
        }
        let report = a.score();
        assert_eq!(report.score, 7.0);
        assert_eq!(
            report.interpretation(),
            "exceptional levels of automated testing and monitoring"
        );
    }

    #[test]
    fn unknown_ids_are_refused() {
        let err = Assessment::new()
            .set("data-8", Status::Manual, None)
            .unwrap_err();
        assert!(err.to_string().contains("data-1..data-7"), "{err}");
        assert!(test_by_id("infra-7").is_some());
    }

    #[test]
    fn assessment_serialises() {
        let mut a = Assessment::new();
        a.set("infra-7", Status::AutomatedPassing, Some("run:42"))
            .unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains(r#""status":"automated_passing""#), "{json}");
        assert_eq!(serde_json::from_str::<Assessment>(&json).unwrap(), a);
    }
}
