//! Every expectation type passing and failing on real CSV and Parquet files, and the
//! distribution test catching a drifted reference.

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use parquet::arrow::ArrowWriter;
use slipway_data::distribution::PsiOptions;
use slipway_data::validate::{Input, validate};
use slipway_data::{Schema, ValidationReport};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const HEADER: [&str; 6] = ["id", "age", "income", "country", "email", "member"];

/// 40 good rows: (id, age, income, country, email, member); "" is null.
fn good_rows() -> Vec<[String; 6]> {
    (0..40)
        .map(|i| {
            [
                i.to_string(),
                (20 + i % 40).to_string(),
                format!("{}", 1000.0 + (i as f64) * 37.5),
                ["FR", "DE", "IT"][i % 3].to_string(),
                format!("user{i}@example.com"),
                (i % 2 == 0).to_string(),
            ]
        })
        .collect()
}

const SCHEMA: &str = r#"
rows: {min: 10, max: 1000}
extra_columns: error
columns:
  - name: id
    type: int
    nullable: false
    unique: true
  - name: age
    type: int
    min: 18
    max: 99
    mean: {min: 30, max: 50}
  - name: income
    type: float
    max_null_fraction: 0.05
    std: {min: 100, max: 1000}
  - name: country
    type: string
    allowed: [FR, DE, IT]
  - name: email
    type: string
    regex: '[a-z0-9]+@[a-z]+\.com'
  - name: member
    type: bool
    allowed: [true, false]
"#;

fn write_csv(path: &Path, rows: &[[String; 6]]) {
    let mut text = HEADER.join(",") + "\n";
    for r in rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// The same rows with real Parquet types (int64, float64, utf8, bool); a value that does not
/// fit its type is written as null.
fn write_parquet(path: &Path, rows: &[[String; 6]]) {
    let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
    let int = |c: usize| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r[c].parse::<i64>().ok()),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        int(0),
        int(1),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r[2].parse::<f64>().ok()),
        )),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| opt(&r[3])))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| opt(&r[4])))),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| r[5].parse::<bool>().ok()),
        )),
    ];
    let types = [
        DataType::Int64,
        DataType::Int64,
        DataType::Float64,
        DataType::Utf8,
        DataType::Utf8,
        DataType::Boolean,
    ];
    let schema = Arc::new(ArrowSchema::new(
        HEADER
            .iter()
            .zip(types)
            .map(|(n, t)| Field::new(*n, t, true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn check(dir: &Path, name: &str, rows: &[[String; 6]], parquet: bool) -> ValidationReport {
    let path: PathBuf = dir.join(if parquet {
        format!("{name}.parquet")
    } else {
        format!("{name}.csv")
    });
    if parquet {
        write_parquet(&path, rows);
    } else {
        write_csv(&path, rows);
    }
    let schema = Schema::parse(SCHEMA).unwrap();
    validate(&Input::from_path(&path).unwrap(), &schema, None).unwrap()
}

fn failed(report: &ValidationReport) -> Vec<String> {
    report
        .expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| format!("{}:{}", e.column, e.expectation))
        .collect()
}

#[test]
fn good_data_passes_every_expectation_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    for parquet in [false, true] {
        let report = check(dir.path(), "good", &good_rows(), parquet);
        assert!(report.passed, "{:?}", report.failure_lines());
        assert_eq!(report.data.rows, 40);
        // type + nullable + unique, type + min + max + mean, type + null fraction + std,
        // type + allowed, type + regex, type + allowed, rows
        assert_eq!(report.expectations.len(), 17, "{parquet}");
        let age = report.columns.iter().find(|c| c.name == "age").unwrap();
        assert_eq!(age.min, Some(20.0));
        assert_eq!(age.max, Some(59.0));
        assert!(report.to_markdown().contains("PASSED"));
    }
}

/// One broken value per case: (case, row index, column index, value, expected failure).
const CASES: &[(&str, usize, usize, &str, &str)] = &[
    ("nullable", 4, 0, "", "id:nullable"),
    ("unique", 7, 0, "3", "id:unique"),
    ("min", 5, 1, "12", "age:min"),
    ("max", 6, 1, "130", "age:max"),
    ("allowed-text", 8, 3, "ES", "country:allowed"),
    ("regex", 9, 4, "not-an-email", "email:regex"),
];

#[test]
fn each_expectation_fails_on_its_broken_row_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    for parquet in [false, true] {
        for (case, row, col, value, want) in CASES {
            let mut rows = good_rows();
            rows[*row][*col] = value.to_string();
            let report = check(dir.path(), case, &rows, parquet);
            assert!(!report.passed, "{case} parquet={parquet}");
            assert_eq!(
                failed(&report),
                vec![want.to_string()],
                "{case} parquet={parquet}"
            );
            let e = report.expectations.iter().find(|e| !e.passed).unwrap();
            // Rows are 1-based data rows.
            assert_eq!(
                e.offending[0].row,
                *row as u64 + 1,
                "{case} parquet={parquet}"
            );
            let line = &report.failure_lines()[0];
            assert!(line.contains(&format!("rows: {}", row + 1)), "{line}");
        }
    }
}

#[test]
fn statistics_expectations_fail_with_the_observed_value() {
    let dir = tempfile::tempdir().unwrap();
    for parquet in [false, true] {
        // Mean: every age at 60.
        let mut rows = good_rows();
        for r in rows.iter_mut() {
            r[1] = "60".into();
        }
        let report = check(dir.path(), "mean", &rows, parquet);
        assert_eq!(failed(&report), vec!["age:mean"]);
        let e = report.expectations.iter().find(|e| !e.passed).unwrap();
        assert_eq!(e.observed, "mean 60");
        // Std: every income equal.
        let mut rows = good_rows();
        for r in rows.iter_mut() {
            r[2] = "5".into();
        }
        let report = check(dir.path(), "std", &rows, parquet);
        assert_eq!(failed(&report), vec!["income:std"]);
        // Null fraction: 3 of 40 incomes missing (7.5 % > 5 %).
        let mut rows = good_rows();
        for i in [1, 2, 3] {
            rows[i][2] = String::new();
        }
        let report = check(dir.path(), "nulls", &rows, parquet);
        assert_eq!(failed(&report), vec!["income:max_null_fraction"]);
        // Row count: 5 rows < 10.
        let report = check(dir.path(), "rows", &good_rows()[..5], parquet);
        assert!(
            failed(&report).contains(&"*:rows".to_string()),
            "{:?}",
            failed(&report)
        );
    }
}

#[test]
fn csv_values_of_the_wrong_type_are_reported_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = good_rows();
    rows[2][1] = "twenty".into();
    rows[11][5] = "maybe".into();
    let report = check(dir.path(), "types", &rows, false);
    assert_eq!(failed(&report), vec!["age:type", "member:type"]);
    let age = report
        .expectations
        .iter()
        .find(|e| e.column == "age" && e.expectation == "type")
        .unwrap();
    assert_eq!(age.offending[0].row, 3);
    assert_eq!(age.offending[0].value, "twenty");
    // A bad value is a type failure, not a null.
    assert_eq!(
        report
            .columns
            .iter()
            .find(|c| c.name == "age")
            .unwrap()
            .nulls,
        0
    );
}

#[test]
fn parquet_columns_of_the_wrong_stored_type_fail_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write_parquet(&path, &good_rows());
    let schema = Schema::parse(
        "columns:\n  - name: income\n    type: int\n  - name: country\n    type: float\n  - name: missing\n    type: int\n",
    )
    .unwrap();
    let report = validate(&Input::from_path(&path).unwrap(), &schema, None).unwrap();
    let f = failed(&report);
    assert!(f.contains(&"income:type".to_string()), "{f:?}");
    assert!(f.contains(&"country:type".to_string()), "{f:?}");
    assert!(f.contains(&"missing:type".to_string()), "{f:?}");
    // Columns not in the schema: warn by default.
    let extra = report
        .expectations
        .iter()
        .find(|e| e.expectation == "extra_columns")
        .unwrap();
    assert_eq!(extra.level, slipway_core::reports::Level::Warn);
    assert!(
        extra.observed.contains("id, age, email, member"),
        "{}",
        extra.observed
    );
    // Every failure is listed at once.
    assert_eq!(report.errors, 3);
}

#[test]
fn warn_level_expectations_do_not_fail_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.csv");
    let mut rows = good_rows();
    rows[0][1] = "150".into();
    write_csv(&path, &rows);
    let schema = Schema::parse("columns:\n  - name: age\n    type: int\n    max: 99\n    warn: [max]\nextra_columns: ignore\n").unwrap();
    let report = validate(&Input::from_path(&path).unwrap(), &schema, None).unwrap();
    assert!(report.passed);
    assert_eq!((report.errors, report.warnings), (0, 1));
}

fn numeric_table(path: &Path, n: usize, shift: f64, seed: u64) {
    // A deterministic pseudo-normal column (sum of 12 uniforms) and a category.
    let mut state = seed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut text = String::from("x,kind\n");
    for i in 0..n {
        let z: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
        let kind = if uniform() < 0.3 + shift.min(0.5) {
            "a"
        } else {
            "b"
        };
        text.push_str(&format!("{},{kind}\n", z + shift + (i % 2) as f64 * 0.0));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_drifted_reference_fails_the_distribution_test() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    let same = dir.path().join("same.csv");
    let drifted = dir.path().join("drifted.csv");
    numeric_table(&data, 20_000, 0.0, 1);
    numeric_table(&same, 20_000, 0.0, 2);
    numeric_table(&drifted, 20_000, 0.8, 3);
    let schema =
        Schema::parse("columns:\n  - name: x\n    type: float\n  - name: kind\n    type: string\n")
            .unwrap();
    let options = PsiOptions::default();
    let input = Input::from_path(&data).unwrap();
    let ok = validate(
        &input,
        &schema,
        Some((&Input::from_path(&same).unwrap(), &options)),
    )
    .unwrap();
    assert!(ok.passed, "{:?}", ok.failure_lines());
    let d = ok.distribution.as_ref().unwrap();
    assert_eq!(d.columns.len(), 2);
    assert!(d.columns.iter().all(|c| c.psi < 0.01), "{:?}", d.columns);
    assert_eq!(d.reference.rows, 20_000);

    let bad = validate(
        &input,
        &schema,
        Some((&Input::from_path(&drifted).unwrap(), &options)),
    )
    .unwrap();
    assert!(!bad.passed);
    let d = bad.distribution.as_ref().unwrap();
    let x = d.columns.iter().find(|c| c.column == "x").unwrap();
    assert!(!x.passed && x.psi > 0.25, "{x:?}");
    assert_eq!(x.binning, "numeric");
    let kind = d.columns.iter().find(|c| c.column == "kind").unwrap();
    assert!(!kind.passed && kind.binning == "categorical", "{kind:?}");
    assert!(
        bad.failure_lines()
            .iter()
            .any(|l| l.contains("column `x`, expectation `psi`"))
    );
    // The PSI is the monitoring PSI: quantile bins of the reference, counted exactly.
    assert!(bad.checks.iter().any(|c| c.id == "psi:x" && !c.passed));
}
