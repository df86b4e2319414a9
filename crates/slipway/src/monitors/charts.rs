//! The monitoring charts (SVG, through `slipway_core::chart`): PSI per feature against its
//! thresholds, and an SLO series with its rolling mean, floor and alert day.

use slipway_core::chart::{Marker, Series, bars, lines};

const AMBER: &str = "#d69e2e";
const RED: &str = "#c53030";

/// PSI per feature with the moderate and significant thresholds.
pub fn psi(title: &str, features: &[(String, f64)], moderate: f64, significant: f64) -> String {
    bars(
        title,
        features,
        &[
            Marker {
                label: format!("moderate {moderate}"),
                at: moderate,
                color: AMBER,
            },
            Marker {
                label: format!("significant {significant}"),
                at: significant,
                color: RED,
            },
        ],
    )
}

/// A daily series, its rolling mean (index `i` ends on day `i + window - 1`), the floor and
/// the alert day.
pub fn slo(
    title: &str,
    values: &[f64],
    rolling: &[f64],
    window: usize,
    floor: f64,
    alert_day: Option<u64>,
) -> String {
    let daily = Series {
        name: "daily".into(),
        points: values
            .iter()
            .enumerate()
            .map(|(d, v)| (d as f64, *v))
            .collect(),
    };
    let smoothed = Series {
        name: format!("{window}-day mean"),
        points: rolling
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + window - 1) as f64, *v))
            .collect(),
    };
    let alert: Vec<Marker> = alert_day
        .map(|d| Marker {
            label: format!("alert day {d}"),
            at: d as f64,
            color: RED,
        })
        .into_iter()
        .collect();
    lines(
        title,
        "day",
        &[daily, smoothed],
        &[Marker {
            label: format!("floor {floor}"),
            at: floor,
            color: RED,
        }],
        &alert,
    )
}
