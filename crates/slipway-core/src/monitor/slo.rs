//! A service-level objective on a live metric: alert on a *sustained* breach, not on one noisy
//! day.
//!
//! The rule is the seed's: smooth the daily series with a rolling mean over `window` days (only
//! full windows, NumPy's `mode="valid"`), call a smoothed value a breach when it is strictly below
//! the floor, and alert when `breaches` consecutive smoothed values are breaches. The alert day is
//! the rolling index plus `window - 1`, i.e. the last calendar day of the window that completed
//! the run. [`evaluate`] does this for a whole series; [`SloMonitor`] does it one day at a time
//! and reports the alert on the day it fires.
//!
//! The rolling mean reproduces `np.convolve(values, np.ones(window) / window, "valid")` bit for
//! bit: each mean is the left-to-right sum of `value * (1 / window)` (see [`rolling_mean`]).

use std::collections::VecDeque;

/// The SLO: a floor, a smoothing window and how many consecutive smoothed breaches alert.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SloSpec {
    /// Smoothed values strictly below this are breaches.
    pub floor: f64,
    /// Days in the rolling mean, at least 1.
    pub window: usize,
    /// Consecutive smoothed breaches that raise an alert, at least 1.
    pub breaches: usize,
}

/// Why an SLO cannot be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SloError {
    /// The spec is not valid; every problem is listed.
    #[error("slo spec is not valid: {}", .0.join("; "))]
    Spec(Vec<String>),
    /// A daily value is NaN or infinite.
    #[error("value for day {day} is {value}; every daily value must be a finite number")]
    Value {
        /// 0-based day of the offending value.
        day: u64,
        /// The value.
        value: f64,
    },
}

impl SloSpec {
    /// The seed's SLO: floor 0.88, window 5, 3 consecutive breaches.
    pub const SEED: SloSpec = SloSpec {
        floor: 0.88,
        window: 5,
        breaches: 3,
    };

    /// Every problem with the spec: a non-finite floor, a zero window, zero breaches.
    pub fn validate(&self) -> Result<(), SloError> {
        let mut problems = Vec::new();
        if !self.floor.is_finite() {
            problems.push(format!("floor {} is not a finite number", self.floor));
        }
        if self.window == 0 {
            problems.push("window 0 is not valid; the rolling window is at least 1 day".into());
        }
        if self.breaches == 0 {
            problems.push(
                "breaches 0 is not valid; at least 1 consecutive smoothed breach must alert".into(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SloError::Spec(problems))
        }
    }
}

/// The rolling means of `values` over full windows (`values.len() - window + 1` of them, none if
/// the series is shorter than the window), each computed as NumPy's `np.convolve` with
/// `np.ones(window) / window` does: `((v[i]*w + v[i+1]*w) + v[i+2]*w) + ...` with `w = 1/window`.
/// This is not always bit-identical to `sum(v[i..i+window]) / window`.
///
/// # Panics
/// If `window` is 0.
pub fn rolling_mean(values: &[f64], window: usize) -> Vec<f64> {
    assert!(window > 0, "rolling window must be at least 1");
    values
        .windows(window)
        .map(|w| window_mean(w.iter().copied(), window))
        .collect()
}

fn window_mean(values: impl Iterator<Item = f64>, window: usize) -> f64 {
    let weight = 1.0 / window as f64;
    let mut sum = 0.0;
    for v in values {
        sum += v * weight;
    }
    sum
}

/// The SLO evaluated over a whole series.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SloReport {
    /// The smoothed series; index `i` ends on day `i + window - 1`.
    pub rolling: Vec<f64>,
    /// The first alert's day (rolling index + window - 1), if any.
    pub alert_day: Option<u64>,
    /// The day of every alert: one per run of consecutive breaches that reached the threshold.
    pub alert_days: Vec<u64>,
    /// The longest run of consecutive smoothed breaches.
    pub longest_breach: usize,
    /// The smallest smoothed value (`None` when the series is shorter than the window).
    pub min_rolling: Option<f64>,
    /// The smallest daily value (`None` for an empty series).
    pub min_value: Option<f64>,
}

/// Evaluates the SLO over a series of daily values (day 0 first).
pub fn evaluate(spec: &SloSpec, values: &[f64]) -> Result<SloReport, SloError> {
    let mut monitor = SloMonitor::new(*spec)?;
    let mut rolling = Vec::with_capacity(values.len().saturating_sub(spec.window - 1));
    let mut alert_days = Vec::new();
    for &v in values {
        let step = monitor.push(v)?;
        rolling.extend(step.rolling);
        alert_days.extend(step.alert.map(|a| a.day));
    }
    Ok(SloReport {
        rolling,
        alert_day: alert_days.first().copied(),
        alert_days,
        longest_breach: monitor.longest_breach(),
        min_rolling: monitor.min_rolling(),
        min_value: monitor.min_value(),
    })
}

/// An alert: the smoothed metric has been below the floor for `run` consecutive days.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SloAlert {
    /// The calendar day the alert fires on (rolling index + window - 1).
    pub day: u64,
    /// The rolling index that completed the run.
    pub rolling_index: u64,
    /// The smoothed value on that day.
    pub rolling: f64,
    /// The run length when it fired (equals the spec's `breaches`).
    pub run: usize,
}

/// What one new day did.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SloStep {
    /// The day just pushed (0-based).
    pub day: u64,
    /// The smoothed value ending on this day, once a full window has been seen.
    pub rolling: Option<f64>,
    /// Whether the smoothed value is a breach (strictly below the floor).
    pub breach: bool,
    /// The current run of consecutive smoothed breaches.
    pub run: usize,
    /// Set on the day the run reaches the threshold; once per run.
    pub alert: Option<SloAlert>,
}

/// The SLO evaluated incrementally, one day at a time, in memory proportional to the window.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SloMonitor {
    spec: SloSpec,
    recent: VecDeque<f64>,
    days: u64,
    run: usize,
    longest: usize,
    min_rolling: Option<f64>,
    min_value: Option<f64>,
}

impl SloMonitor {
    /// A monitor that has seen no day yet.
    pub fn new(spec: SloSpec) -> Result<SloMonitor, SloError> {
        spec.validate()?;
        Ok(SloMonitor {
            spec,
            recent: VecDeque::with_capacity(spec.window),
            days: 0,
            run: 0,
            longest: 0,
            min_rolling: None,
            min_value: None,
        })
    }

    /// The spec.
    pub fn spec(&self) -> &SloSpec {
        &self.spec
    }

    /// Adds the next day's value and reports what happened; the alert is set on the day it
    /// fires, once per run of breaches (a smoothed value at or above the floor re-arms it).
    pub fn push(&mut self, value: f64) -> Result<SloStep, SloError> {
        let day = self.days;
        if !value.is_finite() {
            return Err(SloError::Value { day, value });
        }
        self.days += 1;
        self.min_value = Some(self.min_value.map_or(value, |m| m.min(value)));
        if self.recent.len() == self.spec.window {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        if self.recent.len() < self.spec.window {
            return Ok(SloStep {
                day,
                rolling: None,
                breach: false,
                run: 0,
                alert: None,
            });
        }
        let rolling = window_mean(self.recent.iter().copied(), self.spec.window);
        self.min_rolling = Some(self.min_rolling.map_or(rolling, |m| m.min(rolling)));
        let breach = rolling < self.spec.floor;
        self.run = if breach { self.run + 1 } else { 0 };
        self.longest = self.longest.max(self.run);
        let alert = (self.run == self.spec.breaches).then(|| SloAlert {
            day,
            rolling_index: day + 1 - self.spec.window as u64,
            rolling,
            run: self.run,
        });
        Ok(SloStep {
            day,
            rolling: Some(rolling),
            breach,
            run: self.run,
            alert,
        })
    }

    /// Days pushed so far.
    pub fn days(&self) -> u64 {
        self.days
    }

    /// The longest run of consecutive smoothed breaches so far.
    pub fn longest_breach(&self) -> usize {
        self.longest
    }

    /// The current run of consecutive smoothed breaches.
    pub fn current_run(&self) -> usize {
        self.run
    }

    /// The smallest smoothed value so far.
    pub fn min_rolling(&self) -> Option<f64> {
        self.min_rolling
    }

    /// The smallest daily value so far.
    pub fn min_value(&self) -> Option<f64> {
        self.min_value
    }
}

#[cfg(test)]
#[path = "slo_tests.rs"]
mod tests;
