//! Tests of the default PSI: binning rules, readings, the streaming fit and histogram merging.
//! Golden values against NumPy and Evidently are in `tests/psi_golden.rs`.

use super::*;
use proptest::prelude::*;

fn edges(e: &[f64]) -> BinEdges {
    BinEdges::new(e.to_vec()).unwrap()
}

#[test]
fn value_on_an_edge_goes_right() {
    let e = edges(&[1.0, 2.0, 2.0, 3.0]);
    assert_eq!(e.bins(), 5);
    assert_eq!(e.bin_of(0.5), 0);
    assert_eq!(e.bin_of(1.0), 1);
    assert_eq!(e.bin_of(1.5), 1);
    assert_eq!(
        e.bin_of(2.0),
        3,
        "past both equal edges, as searchsorted(side=right)"
    );
    assert_eq!(e.bin_of(3.0), 4);
    assert_eq!(e.bin_of(1e300), 4);
    assert_eq!(e.bin_of(-1e300), 0);
}

#[test]
fn edges_are_checked() {
    assert!(matches!(
        BinEdges::new(vec![1.0, f64::NAN]),
        Err(EdgesError::NotFinite { index: 1, .. })
    ));
    let err = BinEdges::new(vec![2.0, 1.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bin edge 1 (1) is smaller than edge 0 (2); edges must not decrease"
    );
    assert!(serde_json::from_str::<BinEdges>("[3.0, 1.0]").is_err());
    assert_eq!(
        serde_json::from_str::<BinEdges>("[1.0,3.0]").unwrap(),
        edges(&[1.0, 3.0])
    );
}

#[test]
fn readings_use_the_conventional_thresholds() {
    let t = Thresholds::default();
    assert_eq!(t.read(0.0), Reading::Stable);
    assert_eq!(t.read(0.0999), Reading::Stable);
    assert_eq!(t.read(0.1), Reading::Moderate);
    assert_eq!(t.read(0.2499), Reading::Moderate);
    assert_eq!(t.read(0.25), Reading::Significant);
    assert_eq!(t.read(f64::NAN), Reading::Significant);
    let custom = Thresholds::new(0.05, 0.2).unwrap();
    assert_eq!(custom.read(0.07), Reading::Moderate);
    assert!(Thresholds::new(0.3, 0.2).is_err());
    assert!(Thresholds::new(-0.1, 0.2).is_err());
    assert_eq!(Reading::Significant.to_string(), "significant");
}

#[test]
fn hand_computed_psi() {
    // Baseline 0..100: deciles at 9.9, 19.8, ...; ten values per bin.
    let baseline: Vec<f64> = (0..100).map(f64::from).collect();
    let profile = NumericBaseline::fit(&baseline, 10).unwrap();
    assert_eq!(profile.edges().as_slice()[0], 9.9);
    assert_eq!(profile.histogram().counts(), &[10; 10]);
    // A window entirely in the first bin: one share 1, nine floored at 1e-4.
    let score = profile.score_values(&[0.0, 1.0, 2.0, 3.0]).unwrap();
    let expected = (1.0f64 - 0.1) * (1.0f64 / 0.1).ln() + 9.0 * (1e-4 - 0.1) * (1e-4f64 / 0.1).ln();
    assert!(
        (score.psi - expected).abs() < 1e-12,
        "{} vs {expected}",
        score.psi
    );
    assert_eq!(score.actual[1], SHARE_FLOOR);
    assert_eq!(score.contributions().len(), 10);
    assert_eq!(Thresholds::default().read(score.psi), Reading::Significant);
}

#[test]
fn fit_drops_non_finite_and_rejects_empty() {
    let profile = NumericBaseline::fit(&[1.0, f64::NAN, 2.0, f64::INFINITY, 3.0], 2).unwrap();
    assert_eq!(profile.edges().as_slice(), &[2.0]);
    assert_eq!(profile.histogram().counts(), &[1, 2]);
    assert_eq!(profile.histogram().dropped(), 2);
    let err = NumericBaseline::fit(&[f64::NAN], 10).unwrap_err();
    assert_eq!(err, FitError::Empty { dropped: 1 });
    assert!(err.to_string().contains("no finite values"), "{err}");
    assert_eq!(
        NumericBaseline::fit(&[1.0], 0).unwrap_err(),
        FitError::Bins { bins: 0 }
    );
}

#[test]
fn empty_window_and_mismatched_edges_are_refused() {
    let profile = NumericBaseline::fit(&[1.0, 2.0, 3.0, 4.0], 4).unwrap();
    let window = profile.window();
    assert_eq!(
        profile.score(&window).unwrap_err(),
        ScoreError::Empty { side: "window" }
    );
    let other = NumericBaseline::fit(&[1.0, 2.0, 3.0, 5.0], 4).unwrap();
    let mut w = other.window();
    w.push(1.0);
    assert!(matches!(profile.score(&w), Err(ScoreError::Mismatch(_))));
    let mut a = profile.window();
    assert!(a.merge(&w).is_err());
}

#[test]
fn baseline_serialises_and_reloads() {
    let profile = NumericBaseline::fit(&[1.0, 2.5, 2.5, 4.0, 8.0], 4).unwrap();
    let json = serde_json::to_string(&profile).unwrap();
    let back: NumericBaseline = serde_json::from_str(&json).unwrap();
    assert_eq!(back, profile);
    let rebuilt = NumericBaseline::from_counts(
        profile.edges().clone(),
        profile.histogram().counts().to_vec(),
    )
    .unwrap();
    assert_eq!(
        rebuilt.score_values(&[3.0]).unwrap(),
        profile.score_values(&[3.0]).unwrap()
    );
    assert!(NumericBaseline::from_counts(profile.edges().clone(), vec![1]).is_err());
    // A stored profile whose counts do not fit its edges is refused, not trusted.
    let bad = r#"{"histogram":{"edges":[1.0,2.0],"counts":[1,2],"dropped":0}}"#;
    let err = serde_json::from_str::<NumericBaseline>(bad).unwrap_err();
    assert!(err.to_string().contains("3 vs 2 bins"), "{err}");
    let bad = r#"{"categories":["b","a"],"counts":[1,2,0]}"#;
    assert!(serde_json::from_str::<CategoricalBaseline>(bad).is_err());
    let bad = r#"{"categories":["a","b"],"counts":[1,2]}"#;
    assert!(serde_json::from_str::<CategoricalBaseline>(bad).is_err());
    let bad = r#"{"categories":["a","a"],"counts":[1,2,0],"missing":0}"#;
    assert!(serde_json::from_str::<CategoricalHistogram>(bad).is_err());
    let good = r#"{"categories":["a","b"],"counts":[1,2,0]}"#;
    assert_eq!(
        serde_json::from_str::<CategoricalBaseline>(good)
            .unwrap()
            .counts(),
        &[1, 2, 0]
    );
}

#[test]
fn categorical_psi_with_other_bucket() {
    let mut counter = CategoryCounter::new();
    for v in ["a", "a", "a", "b", "c", "c"] {
        counter.push(v);
    }
    counter.push_missing();
    let baseline = counter.clone().finish(10);
    assert_eq!(baseline.categories(), &["a", "b", "c"]);
    assert_eq!(baseline.counts(), &[3, 1, 2, 0]);
    let mut window = baseline.window();
    for v in ["a", "b", "zzz", "new"] {
        window.push(v);
    }
    window.push_missing();
    assert_eq!(window.counts(), &[1, 1, 0, 2]);
    assert_eq!(window.missing(), 1);
    let score = baseline.score(&window).unwrap();
    let e: [f64; 4] = [0.5, 1.0 / 6.0, 2.0 / 6.0, 1e-4];
    let a: [f64; 4] = [0.25, 0.25, 1e-4, 0.5];
    let expected: f64 = e.iter().zip(a).map(|(e, a)| (a - e) * (a / e).ln()).sum();
    assert!((score.psi - expected).abs() < 1e-12);
    // Keeping only the 2 most frequent categories sends `b` to other.
    let top2 = counter.finish(2);
    assert_eq!(top2.categories(), &["a", "c"]);
    assert_eq!(top2.counts(), &[3, 2, 1]);
}

#[test]
fn numpy_sum_matches_numpys_order() {
    // Values chosen so that the order of additions changes the result.
    let values: Vec<f64> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                1e16
            } else {
                1.0 + i as f64 * 1e-3
            }
        })
        .collect();
    let naive: f64 = values.iter().sum();
    let pairwise = numpy_sum(&values);
    // np.sum of the same array (NumPy 2.4.6): see tests/fixtures/psi_golden.py for the setup.
    assert_eq!(pairwise, 1.0000000000000003e18);
    assert_ne!(pairwise, naive);
    assert_eq!(numpy_sum(&[]), 0.0);
    assert_eq!(numpy_sum(&[1.5, 2.5]), 4.0);
}

/// Fits with the multi-pass exact algorithm.
fn fit_streaming(values: &[f64], bins: usize, collect_limit: u64) -> (NumericBaseline, u32) {
    fit_streaming_by(values, bins, collect_limit, None)
}

/// Feeds value by value, or in slices of `chunk` through `push_slice`.
fn fit_streaming_by(
    values: &[f64],
    bins: usize,
    collect_limit: u64,
    chunk: Option<usize>,
) -> (NumericBaseline, u32) {
    let mut fit = NumericFit::new(bins)
        .unwrap()
        .with_collect_limit(collect_limit);
    loop {
        match chunk {
            Some(n) => values.chunks(n).for_each(|c| fit.push_slice(c)),
            None => values.iter().for_each(|&x| fit.push(x)),
        }
        let pass = fit.pass();
        match fit.finish_pass().unwrap() {
            FitStep::AnotherPass(next) => fit = next,
            FitStep::Done(baseline) => return (baseline, pass),
        }
    }
}

#[test]
fn streaming_fit_equals_in_memory_fit() {
    let values: Vec<f64> = (0..20_000)
        .map(|i| {
            ((i * 7919) % 10_007) as f64 * 0.001 - 3.0 + if i % 97 == 0 { f64::NAN } else { 0.0 }
        })
        .collect();
    let exact = NumericBaseline::fit(&values, 10).unwrap();
    for limit in [1, 64, 4096, 1 << 20] {
        let (streamed, passes) = fit_streaming(&values, 10, limit);
        assert_eq!(streamed, exact, "collect limit {limit}");
        assert!(passes <= 6, "{passes} passes");
        assert_eq!(
            fit_streaming_by(&values, 10, limit, Some(333)),
            (streamed, passes),
            "slices and single values fit the same"
        );
    }
    // A collect limit of 1 forces splitting down to single keys: the most passes.
    assert_eq!(fit_streaming(&values, 10, 1).1, 6);
    assert_eq!(fit_streaming(&values, 10, 1 << 20).1, 3);
}

#[test]
fn streaming_fit_refuses_a_changed_input() {
    let mut fit = NumericFit::new(4).unwrap();
    for x in [1.0, 2.0, 3.0] {
        fit.push(x);
    }
    let FitStep::AnotherPass(mut fit) = fit.finish_pass().unwrap() else {
        panic!("needs a second pass")
    };
    fit.push(1.0);
    let err = fit.finish_pass().unwrap_err();
    assert_eq!(
        err,
        FitError::PassChanged {
            pass: 2,
            expected: 3,
            found: 1
        }
    );
    let empty = NumericFit::new(4).unwrap();
    assert_eq!(
        empty.finish_pass().unwrap_err(),
        FitError::Empty { dropped: 0 }
    );
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        (-50i32..50).prop_map(f64::from),
        Just(0.0),
        Just(-0.0),
        -1e-300f64..1e-300,
    ]
}

proptest! {
    // Generating hundreds of floats per case is slow in a debug build; 96 cases per property
    // keep the suite fast and still cover ties, signed zeros, subnormals and wide ranges.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn psi_is_non_negative_and_zero_for_identical_windows(
        baseline in proptest::collection::vec(finite(), 1..300),
        window in proptest::collection::vec(finite(), 1..300),
        bins in 1usize..25,
    ) {
        let profile = NumericBaseline::fit(&baseline, bins).unwrap();
        let score = profile.score_values(&window).unwrap();
        prop_assert!(score.psi >= 0.0, "psi {}", score.psi);
        let same = profile.score_values(&baseline).unwrap();
        prop_assert_eq!(same.psi, 0.0);
    }

    #[test]
    fn psi_is_invariant_under_permutation(
        baseline in proptest::collection::vec(finite(), 1..200),
        mut window in proptest::collection::vec(finite(), 1..200),
        seed in any::<u64>(),
    ) {
        let profile = NumericBaseline::fit(&baseline, 10).unwrap();
        let before = profile.score_values(&window).unwrap();
        let mut shuffled_baseline = baseline.clone();
        shuffle(&mut window, seed);
        shuffle(&mut shuffled_baseline, seed ^ 0x9e37);
        prop_assert_eq!(&NumericBaseline::fit(&shuffled_baseline, 10).unwrap(), &profile);
        prop_assert_eq!(profile.score_values(&window).unwrap(), before);
    }

    #[test]
    fn merged_histograms_equal_the_histogram_of_the_concatenation(
        baseline in proptest::collection::vec(finite(), 1..200),
        a in proptest::collection::vec(finite(), 0..200),
        b in proptest::collection::vec(prop_oneof![finite(), Just(f64::NAN)], 0..200),
    ) {
        let profile = NumericBaseline::fit(&baseline, 10).unwrap();
        let mut ha = profile.window();
        ha.extend(a.iter().copied());
        let mut hb = profile.window();
        hb.extend(b.iter().copied());
        let mut whole = profile.window();
        whole.extend(a.iter().chain(&b).copied());
        ha.merge(&hb).unwrap();
        prop_assert_eq!(ha, whole);
    }

    #[test]
    fn edges_are_numpy_quantiles_of_the_sorted_values(
        values in proptest::collection::vec(finite(), 1..300),
    ) {
        let profile = NumericBaseline::fit(&values, 10).unwrap();
        let mut sorted: Vec<f64> = values.iter().map(|x| x + 0.0).collect();
        sorted.sort_by(f64::total_cmp);
        let direct: Vec<f64> = quantile_cut_points(10).iter().map(|&p| numpy_quantile_sorted(&sorted, p)).collect();
        // Equal unless NumPy's own edges were out of order (then ours are raised to be monotone).
        if direct.windows(2).all(|w| w[0] <= w[1]) {
            prop_assert_eq!(profile.edges().as_slice(), &direct[..]);
        }
        // Every value is counted once.
        prop_assert_eq!(profile.histogram().total(), values.len() as u64);
    }
}

proptest! {
    // Each case runs up to six passes with 4,096-counter splits; fewer cases keep the debug
    // build's test time reasonable.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn streaming_fit_is_exact(
        values in proptest::collection::vec(prop_oneof![finite(), Just(f64::NAN)], 1..400),
        bins in 1usize..30,
        limit in prop_oneof![Just(1u64), Just(3), Just(4096)],
    ) {
        prop_assume!(values.iter().any(|x| x.is_finite()));
        let exact = NumericBaseline::fit(&values, bins).unwrap();
        let (streamed, _) = fit_streaming(&values, bins, limit);
        prop_assert_eq!(streamed, exact);
    }
}

/// A deterministic Fisher–Yates shuffle (splitmix64), so the test needs no RNG crate.
fn shuffle(values: &mut [f64], mut seed: u64) {
    let mut next = || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..values.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        values.swap(i, j);
    }
}
