//! Tests of the SLO monitor against the seed's reference run (`shared/reference/slo.md`,
//! produced by the seed's NumPy code with `default_rng(11)`).

use super::*;
use proptest::prelude::*;

/// The seed's 30 daily accuracies, as printed by `slo_reference.py` (repr of float64).
const SEED_ACC: [f64; 30] = [
    0.9104103132070382,
    0.9263169704837195,
    0.9246966529430313,
    0.903876315078548,
    0.9064243658667227,
    0.903671389683599,
    0.9168367162908636,
    0.9093272267314526,
    0.9189626273950786,
    0.8878321024123107,
    0.9287985852963943,
    0.9088428140781326,
    0.9181645414392898,
    0.908361203992278,
    0.9054508171951018,
    0.9155573219031711,
    0.9198941623303614,
    0.9075696415516786,
    0.9081665658571577,
    0.9122283833297111,
    0.887555912296634,
    0.8738273979552232,
    0.8907397823529943,
    0.8719532101157454,
    0.8509559129185836,
    0.8582313560326557,
    0.8563888292932871,
    0.8416815702708128,
    0.8320904333912437,
    0.8444396539233378,
];

/// `np.convolve(acc, np.ones(5)/5, mode="valid")`, as printed by the same script.
const SEED_ROLL: [f64; 26] = [
    0.9143449235158119,
    0.9129971388111242,
    0.911101087972553,
    0.9080272027302373,
    0.9110444651935433,
    0.907326012502661,
    0.91235145162522,
    0.9107526711826739,
    0.9125201341242412,
    0.9103998494436811,
    0.9139235924002395,
    0.9112753397215948,
    0.9134856093720405,
    0.9113666293945182,
    0.9113277017674941,
    0.9126832149944161,
    0.9070829330731087,
    0.8978695801980809,
    0.8945036083583441,
    0.8872609372100618,
    0.8750064431278362,
    0.8691415318750406,
    0.8656538181426533,
    0.8558421757262169,
    0.8478696203813166,
    0.8465663685822675,
];

#[test]
fn seed_reference_alerts_on_day_26() {
    let report = evaluate(&SloSpec::SEED, &SEED_ACC).unwrap();
    assert_eq!(report.alert_day, Some(26));
    assert_eq!(report.alert_days, vec![26]);
    assert_eq!(report.longest_breach, 6);
    let min = report.min_rolling.unwrap();
    assert!((min - 0.8465663685822675).abs() < 1e-12, "{min}");
    assert_eq!(report.min_value, Some(0.8320904333912437));
}

#[test]
fn rolling_mean_is_bit_identical_to_numpy_convolve() {
    let rolling = rolling_mean(&SEED_ACC, 5);
    assert_eq!(rolling.len(), 26);
    for (i, (ours, numpy)) in rolling.iter().zip(SEED_ROLL).enumerate() {
        assert_eq!(
            ours.to_bits(),
            numpy.to_bits(),
            "rolling index {i}: {ours} vs {numpy}"
        );
    }
    // The naive sum-then-divide differs from NumPy in the last bits on this series.
    let naive: Vec<f64> = SEED_ACC
        .windows(5)
        .map(|w| w.iter().sum::<f64>() / 5.0)
        .collect();
    assert_ne!(naive, SEED_ROLL.to_vec());
}

#[test]
fn seed_reference_with_floor_084_does_not_alert() {
    let spec = SloSpec {
        floor: 0.84,
        ..SloSpec::SEED
    };
    let report = evaluate(&spec, &SEED_ACC).unwrap();
    assert_eq!(report.alert_day, None);
    assert!(report.alert_days.is_empty());
    assert_eq!(report.longest_breach, 0);
}

#[test]
fn incremental_monitor_fires_on_the_alert_day_only() {
    let mut monitor = SloMonitor::new(SloSpec::SEED).unwrap();
    let mut alerts = Vec::new();
    for (day, &v) in SEED_ACC.iter().enumerate() {
        let step = monitor.push(v).unwrap();
        assert_eq!(step.day, day as u64);
        assert_eq!(step.rolling.is_some(), day >= 4);
        if let Some(alert) = step.alert {
            alerts.push(alert);
        }
    }
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].day, 26);
    assert_eq!(alerts[0].rolling_index, 22);
    assert_eq!(alerts[0].run, 3);
    assert_eq!(alerts[0].rolling, SEED_ROLL[22]);
    assert_eq!(monitor.longest_breach(), 6);
    assert_eq!(monitor.current_run(), 6);
    assert_eq!(monitor.days(), 30);
}

#[test]
fn alert_re_arms_after_recovery() {
    // Window 1: the smoothed series is the series itself.
    let spec = SloSpec {
        floor: 1.0,
        window: 1,
        breaches: 2,
    };
    let series = [0.0, 0.0, 0.0, 2.0, 0.0, 2.0, 0.0, 0.0];
    let report = evaluate(&spec, &series).unwrap();
    assert_eq!(report.alert_days, vec![1, 7]);
    assert_eq!(report.longest_breach, 3);
    // A value equal to the floor is not a breach.
    let report = evaluate(&spec, &[1.0, 1.0, 1.0]).unwrap();
    assert_eq!(report.longest_breach, 0);
}

#[test]
fn short_and_empty_series() {
    let report = evaluate(&SloSpec::SEED, &SEED_ACC[..4]).unwrap();
    assert!(report.rolling.is_empty());
    assert_eq!(report.min_rolling, None);
    assert_eq!(report.alert_day, None);
    let report = evaluate(&SloSpec::SEED, &[]).unwrap();
    assert_eq!(report.min_value, None);
}

#[test]
fn invalid_spec_and_values_are_refused() {
    let err = SloMonitor::new(SloSpec {
        floor: f64::NAN,
        window: 0,
        breaches: 0,
    })
    .unwrap_err();
    let SloError::Spec(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 3, "{err}");
    assert!(err.to_string().contains("window 0"), "{err}");
    let err = evaluate(&SloSpec::SEED, &[0.9, f64::NAN]).unwrap_err();
    assert!(
        matches!(err, SloError::Value { day: 1, value } if value.is_nan()),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "value for day 1 is NaN; every daily value must be a finite number"
    );
}

proptest! {
    /// The incremental monitor and the batch evaluation agree with a direct transcription of the
    /// seed's loop.
    #[test]
    fn matches_the_seed_loop(
        values in proptest::collection::vec(0.0f64..1.0, 0..60),
        floor in 0.0f64..1.0,
        window in 1usize..8,
        breaches in 1usize..5,
    ) {
        let spec = SloSpec { floor, window, breaches };
        let report = evaluate(&spec, &values).unwrap();
        let roll = rolling_mean(&values, window);
        let (mut run, mut fire, mut fire_day) = (0usize, 0usize, None);
        for (i, r) in roll.iter().enumerate() {
            run = if *r < floor { run + 1 } else { 0 };
            if run >= breaches && fire_day.is_none() {
                fire_day = Some((i + window - 1) as u64);
            }
            fire = fire.max(run);
        }
        prop_assert_eq!(report.alert_day, fire_day);
        prop_assert_eq!(report.longest_breach, fire);
        prop_assert_eq!(&report.rolling, &roll);
    }
}
