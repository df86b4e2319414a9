//! The validation report: JSON (the artifact the score and the card read) and Markdown (for
//! people).

use slipway_core::reports::{Check, DatasetRef, Level, VALIDATION_FORMAT};
use std::fmt::Write;

/// A row that broke an expectation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Offender {
    /// 1-based data row (the header is not a row; in a CSV file, line = row + 1 when no field
    /// spans lines).
    pub row: u64,
    /// The value, as text.
    pub value: String,
}

/// One column's statistics.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColumnStats {
    /// Column name.
    pub name: String,
    /// Declared type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Rows seen.
    pub rows: u64,
    /// Nulls (empty CSV fields).
    pub nulls: u64,
    /// `nulls / rows`.
    pub null_fraction: f64,
    /// Values that are not of the declared type.
    pub invalid: u64,
    /// NaN values (float columns).
    pub nan: u64,
    /// Smallest value (numeric columns).
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Mean of the finite values.
    pub mean: Option<f64>,
    /// Population standard deviation of the finite values.
    pub std: Option<f64>,
    /// Distinct values (counted only for `unique` columns).
    pub distinct: Option<u64>,
}

/// One expectation's outcome.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExpectationResult {
    /// The column (`*` for table-level expectations such as `rows`).
    pub column: String,
    /// The expectation's name (`min`, `unique`, …).
    pub expectation: String,
    /// `error` or `warn`.
    pub level: Level,
    /// Whether it held.
    pub passed: bool,
    /// What was expected.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// How many rows broke it.
    pub offending_count: u64,
    /// The first few of them.
    pub offending: Vec<Offender>,
}

/// One column's PSI against the reference.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistributionResult {
    /// Column name.
    pub column: String,
    /// `numeric` (quantile bins of the reference) or `categorical`.
    pub binning: String,
    /// The PSI.
    pub psi: f64,
    /// Whether `psi < threshold`.
    pub passed: bool,
}

/// The distribution test.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistributionReport {
    /// The reference dataset.
    pub reference: DatasetRef,
    /// A column fails when its PSI is at or above this.
    pub threshold: f64,
    /// Numeric bins (quantiles of the reference).
    pub bins: usize,
    /// `error` or `warn`.
    pub level: Level,
    /// Per column.
    pub columns: Vec<DistributionResult>,
}

/// The report of `slipway/validate`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValidationReport {
    /// Always [`VALIDATION_FORMAT`].
    pub format: String,
    /// The data checked.
    pub data: DatasetRef,
    /// `csv` or `parquet`.
    pub data_format: String,
    /// No error-level expectation failed.
    pub passed: bool,
    /// Failed error-level expectations.
    pub errors: u64,
    /// Failed warn-level expectations.
    pub warnings: u64,
    /// Per column.
    pub columns: Vec<ColumnStats>,
    /// Every expectation, passed or not.
    pub expectations: Vec<ExpectationResult>,
    /// The distribution test, when a reference was given.
    pub distribution: Option<DistributionReport>,
    /// Every expectation as a generic check (`column:expectation`, `rows`, `psi:column`).
    pub checks: Vec<Check>,
}

impl ValidationReport {
    /// Assembles a report and its summary counts.
    pub fn new(
        data: DatasetRef,
        data_format: &str,
        columns: Vec<ColumnStats>,
        expectations: Vec<ExpectationResult>,
        distribution: Option<DistributionReport>,
    ) -> ValidationReport {
        let mut checks: Vec<Check> = expectations
            .iter()
            .map(|e| {
                let id = if e.column == "*" {
                    e.expectation.clone()
                } else {
                    format!("{}:{}", e.column, e.expectation)
                };
                Check::new(id, e.passed, e.level, &e.expected, &e.observed)
            })
            .collect();
        if let Some(d) = &distribution {
            for c in &d.columns {
                checks.push(Check::new(
                    format!("psi:{}", c.column),
                    c.passed,
                    d.level,
                    format!("psi < {}", d.threshold),
                    format!("psi {:.6}", c.psi),
                ));
            }
        }
        let errors = checks.iter().filter(|c| c.is_error()).count() as u64;
        let warnings = checks
            .iter()
            .filter(|c| !c.passed && c.level == Level::Warn)
            .count() as u64;
        ValidationReport {
            format: VALIDATION_FORMAT.to_string(),
            data,
            data_format: data_format.to_string(),
            passed: errors == 0,
            errors,
            warnings,
            columns,
            expectations,
            distribution,
            checks,
        }
    }

    /// The failed expectations, errors first, each on one line with its offending rows: what
    /// the stage's log and error message show.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut failed: Vec<&ExpectationResult> =
            self.expectations.iter().filter(|e| !e.passed).collect();
        failed.sort_by_key(|e| e.level == Level::Warn);
        let mut lines: Vec<String> = failed
            .iter()
            .map(|e| {
                let rows = if e.offending.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; rows: {}{}",
                        e.offending
                            .iter()
                            .map(|o| format!("{} ({})", o.row, o.value))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if e.offending_count > e.offending.len() as u64 {
                            format!(" and {} more", e.offending_count - e.offending.len() as u64)
                        } else {
                            String::new()
                        }
                    )
                };
                format!(
                    "{}: column `{}`, expectation `{}`: expected {}, observed {}{rows}",
                    e.level.as_str(),
                    e.column,
                    e.expectation,
                    e.expected,
                    e.observed
                )
            })
            .collect();
        if let Some(d) = &self.distribution {
            for c in d.columns.iter().filter(|c| !c.passed) {
                lines.push(format!(
                    "{}: column `{}`, expectation `psi`: expected psi < {} against {}, observed {:.6}",
                    d.level.as_str(),
                    c.column,
                    d.threshold,
                    d.reference.path,
                    c.psi
                ));
            }
        }
        lines
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Data validation: {}\n", self.data.path);
        let _ = writeln!(
            md,
            "**{}** — {} rows, {} error(s), {} warning(s). Digest `{}`.\n",
            if self.passed { "PASSED" } else { "FAILED" },
            self.data.rows,
            self.errors,
            self.warnings,
            self.data.digest
        );
        let failures = self.failure_lines();
        if !failures.is_empty() {
            let _ = writeln!(md, "## Failures\n");
            for f in &failures {
                let _ = writeln!(md, "- {f}");
            }
            md.push('\n');
        }
        let _ = writeln!(md, "## Columns\n");
        let _ = writeln!(
            md,
            "| column | type | nulls | invalid | min | max | mean | std |\n|---|---|---:|---:|---:|---:|---:|---:|"
        );
        let num = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        for c in &self.columns {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                c.name,
                c.ty,
                c.nulls,
                c.invalid,
                num(c.min),
                num(c.max),
                num(c.mean),
                num(c.std)
            );
        }
        let _ = writeln!(md, "\n## Expectations\n");
        let _ = writeln!(
            md,
            "| column | expectation | level | result | expected | observed |\n|---|---|---|---|---|---|"
        );
        for e in &self.expectations {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                e.column,
                e.expectation,
                e.level.as_str(),
                if e.passed { "pass" } else { "FAIL" },
                e.expected.replace('|', "\\|"),
                e.observed.replace('|', "\\|")
            );
        }
        if let Some(d) = &self.distribution {
            let _ = writeln!(
                md,
                "\n## Distribution against {} (PSI, threshold {})\n",
                d.reference.path, d.threshold
            );
            let _ = writeln!(
                md,
                "| column | binning | psi | result |\n|---|---|---:|---|"
            );
            for c in &d.columns {
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.6} | {} |",
                    c.column,
                    c.binning,
                    c.psi,
                    if c.passed { "pass" } else { "FAIL" }
                );
            }
        }
        md
    }
}
