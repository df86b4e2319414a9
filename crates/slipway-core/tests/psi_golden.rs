//! Golden PSI values: NumPy's default binning and Evidently's own PSI, computed once by
//! `tests/fixtures/psi_golden.py` (NumPy 2.4.6, Evidently 0.7.23) and checked in as
//! `tests/fixtures/psi_golden.json`. Nothing here runs Python.

use serde::Deserialize;
use slipway_core::monitor::psi::evidently::{EvidentlyBinning, evidently_psi};
use slipway_core::monitor::psi::{FitStep, NumericBaseline, NumericFit};
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    baseline: Vec<Option<f64>>,
    current: Vec<Option<f64>>,
    numpy: BTreeMap<String, NumpyResult>,
    evidently: EvidentlyResult,
}

#[derive(Deserialize)]
struct NumpyResult {
    edges: Vec<f64>,
    baseline_counts: Vec<u64>,
    current_counts: Vec<u64>,
    psi: f64,
}

#[derive(Deserialize)]
struct EvidentlyResult {
    psi: f64,
    bins: usize,
}

fn golden() -> Vec<Case> {
    let text = include_str!("fixtures/psi_golden.json");
    serde_json::from_str::<Golden>(text)
        .expect("fixture parses")
        .cases
}

fn values(v: &[Option<f64>]) -> Vec<f64> {
    v.iter().map(|x| x.unwrap_or(f64::NAN)).collect()
}

/// The tolerance. On the development machine every value is in fact bit-identical
/// (edges, counts and PSI); the logarithm is the only operation that may differ elsewhere.
const TOLERANCE: f64 = 1e-9;

#[test]
fn default_binning_matches_numpy() {
    let cases = golden();
    assert_eq!(cases.len(), 6);
    let mut checked = 0;
    for case in &cases {
        let baseline = values(&case.baseline);
        let current = values(&case.current);
        for (bins, want) in &case.numpy {
            let bins: usize = bins.parse().unwrap();
            let profile = NumericBaseline::fit(&baseline, bins).unwrap();
            let at = format!("{} with {bins} bins", case.name);
            // Edges and counts are exact: same quantile arithmetic, same comparisons.
            assert_eq!(profile.edges().as_slice(), &want.edges[..], "{at}: edges");
            assert_eq!(
                profile.histogram().counts(),
                &want.baseline_counts[..],
                "{at}"
            );
            let mut window = profile.window();
            window.extend(current.iter().copied());
            assert_eq!(window.counts(), &want.current_counts[..], "{at}");
            let score = profile.score(&window).unwrap();
            assert!(
                (score.psi - want.psi).abs() <= TOLERANCE,
                "{at}: psi {} vs numpy {}",
                score.psi,
                want.psi
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

#[test]
fn streaming_fit_matches_numpy() {
    for case in golden() {
        let baseline = values(&case.baseline);
        let want = &case.numpy["10"];
        let mut fit = NumericFit::new(10).unwrap().with_collect_limit(16);
        let profile = loop {
            baseline.iter().for_each(|&x| fit.push(x));
            match fit.finish_pass().unwrap() {
                FitStep::AnotherPass(next) => fit = next,
                FitStep::Done(profile) => break profile,
            }
        };
        assert_eq!(profile.edges().as_slice(), &want.edges[..], "{}", case.name);
        assert_eq!(
            profile.histogram().counts(),
            &want.baseline_counts[..],
            "{}",
            case.name
        );
    }
}

#[test]
fn evidently_option_matches_evidently() {
    for case in golden() {
        let result = evidently_psi(&values(&case.baseline), &values(&case.current)).unwrap();
        let bins = match &result.binning {
            EvidentlyBinning::EqualWidth { edges } => edges.len() - 1,
            EvidentlyBinning::Discrete { values } => values.len(),
            EvidentlyBinning::Categories { categories } => categories.len(),
        };
        assert_eq!(bins, case.evidently.bins, "{}: bins", case.name);
        assert!(
            (result.psi - case.evidently.psi).abs() <= TOLERANCE,
            "{}: psi {} vs evidently {}",
            case.name,
            result.psi,
            case.evidently.psi
        );
    }
}

#[test]
fn low_cardinality_cases_use_one_bin_per_value() {
    let cases = golden();
    let ties = cases.iter().find(|c| c.name == "integer_ties").unwrap();
    let result = evidently_psi(&values(&ties.baseline), &values(&ties.current)).unwrap();
    assert!(matches!(result.binning, EvidentlyBinning::Discrete { .. }));
    let shift = cases.iter().find(|c| c.name == "normal_shift").unwrap();
    let result = evidently_psi(&values(&shift.baseline), &values(&shift.current)).unwrap();
    assert!(matches!(
        result.binning,
        EvidentlyBinning::EqualWidth { .. }
    ));
}
