//! The Population Stability Index: how far a production window's distribution has moved from a
//! baseline's.
//!
//! `PSI = Σ (a_i − e_i) · ln(a_i / e_i)` over bins, where `e_i` is the baseline's share of bin `i`
//! and `a_i` the window's, both floored at [`SHARE_FLOOR`] so empty bins stay finite. It is the
//! symmetrised Kullback–Leibler divergence of the two binned distributions, so it is never
//! negative and is zero when the shares agree.
//!
//! # Default binning (NumPy-reproducible)
//! For a numeric feature the bins are frozen from the baseline ([`NumericBaseline`]): the
//! interior edges are `np.quantile(baseline, [1/B, 2/B, …, (B−1)/B])` with linear interpolation
//! over the finite values (for B = 10 the cut points are exactly the literals `0.1, …, 0.9`), the
//! outer bins are open, and a value equal to an edge goes to the bin on its right
//! (`np.searchsorted(edges, x, side="right")`). NaN and ±∞ are dropped and counted apart. The
//! baseline is fitted either in memory ([`NumericBaseline::fit`], which sorts a copy: 8 bytes per
//! value) or exactly in a few streaming passes with bounded memory ([`NumericFit`]). A window is
//! counted into the frozen edges with a [`Histogram`], one value at a time; histograms merge, so
//! windows can be counted in parallel or in pieces.
//!
//! For a categorical feature ([`CategoricalBaseline`]) the bins are the baseline's categories plus
//! an `other` bucket for values the baseline did not have.
//!
//! # Evidently's binning
//! [`evidently`] reproduces Evidently 0.7.23's PSI (equal-width Sturges bins over both samples,
//! or one bin per value for low-cardinality data, and its own replacement of empty shares), for
//! users who compare numbers with it.
//!
//! Sums are NumPy's pairwise summation ([`numpy_sum`]), so values agree with NumPy's to the last
//! bit wherever the logarithms do.

mod categorical;
pub mod evidently;
mod numeric;
mod profile;
mod quantile;

pub use categorical::{
    CategoricalBaseline, CategoricalHistogram, CategoricalShapeError, CategoryCounter, OTHER,
};
pub use numeric::{BinEdges, EdgesError, FitError, Histogram, HistogramMismatch, NumericBaseline};
pub use profile::{
    BaselineProfile, DriftSummary, DuplicateFeature, FeatureBaseline, FeatureDrift, FeatureProfile,
    PROFILE_FORMAT,
};
pub use quantile::{FitStep, NumericFit, numpy_quantile_sorted, quantile_cut_points};

use std::fmt;

/// The default number of bins (deciles).
pub const DEFAULT_BINS: usize = 10;

/// The most bins a numeric baseline may have.
pub const MAX_BINS: usize = 1000;

/// Shares below this are raised to it before the logarithm.
pub const SHARE_FLOOR: f64 = 1e-4;

/// How a PSI value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reading {
    /// Below the moderate threshold: no significant change.
    Stable,
    /// At or above the moderate threshold and below the significant one: investigate.
    Moderate,
    /// At or above the significant threshold: act.
    Significant,
}

impl Reading {
    /// `stable`, `moderate` or `significant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reading::Stable => "stable",
            Reading::Moderate => "moderate",
            Reading::Significant => "significant",
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thresholds that turn a PSI into a [`Reading`]; the convention is 0.1 and 0.25.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thresholds {
    /// PSI at or above this is at least moderate.
    pub moderate: f64,
    /// PSI at or above this is significant.
    pub significant: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            moderate: 0.1,
            significant: 0.25,
        }
    }
}

/// Thresholds that are not finite, negative or out of order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "psi thresholds moderate {moderate} and significant {significant} are not valid; both must be finite, >= 0, and moderate <= significant"
)]
pub struct ThresholdsError {
    /// The moderate threshold given.
    pub moderate: f64,
    /// The significant threshold given.
    pub significant: f64,
}

impl Thresholds {
    /// Checked thresholds.
    pub fn new(moderate: f64, significant: f64) -> Result<Thresholds, ThresholdsError> {
        let ok = moderate.is_finite()
            && significant.is_finite()
            && moderate >= 0.0
            && moderate <= significant;
        if ok {
            Ok(Thresholds {
                moderate,
                significant,
            })
        } else {
            Err(ThresholdsError {
                moderate,
                significant,
            })
        }
    }

    /// How `psi` reads: stable below `moderate`, significant at or above `significant`
    /// (NaN reads significant, so a broken computation is never called stable).
    pub fn read(&self, psi: f64) -> Reading {
        if psi < self.moderate {
            Reading::Stable
        } else if psi < self.significant {
            Reading::Moderate
        } else {
            Reading::Significant
        }
    }
}

/// A PSI with the shares it was computed from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PsiScore {
    /// The index.
    pub psi: f64,
    /// The baseline's share of each bin, after flooring.
    pub expected: Vec<f64>,
    /// The window's share of each bin, after flooring.
    pub actual: Vec<f64>,
}

impl PsiScore {
    /// Each bin's term `(a − e) · ln(a / e)`.
    pub fn contributions(&self) -> Vec<f64> {
        self.expected
            .iter()
            .zip(&self.actual)
            .map(|(&e, &a)| (a - e) * (a / e).ln())
            .collect()
    }
}

/// Why a PSI cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// One side has no values to take shares of.
    #[error("the {side} has no values; psi needs at least one value on each side")]
    Empty {
        /// `baseline` or `window`.
        side: &'static str,
    },
    /// The window was counted with other bins than the baseline's.
    #[error(transparent)]
    Mismatch(#[from] HistogramMismatch),
}

/// `count / total` for each count, raised to at least `floor` (NumPy: `np.maximum(c / n, floor)`).
pub fn floored_shares(counts: &[u64], total: u64, floor: f64) -> Vec<f64> {
    counts
        .iter()
        .map(|&c| (c as f64 / total as f64).max(floor))
        .collect()
}

/// `Σ (a − e) · ln(a / e)` summed as `np.sum` does. The shares must be positive.
pub fn psi_from_shares(expected: &[f64], actual: &[f64]) -> f64 {
    let terms: Vec<f64> = expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| (a - e) * (a / e).ln())
        .collect();
    numpy_sum(&terms)
}

/// The PSI of two count vectors over the same bins, shares floored at [`SHARE_FLOOR`].
pub fn psi_from_counts(expected: &[u64], actual: &[u64]) -> Result<PsiScore, ScoreError> {
    let n_expected: u64 = expected.iter().sum();
    let n_actual: u64 = actual.iter().sum();
    if n_expected == 0 {
        return Err(ScoreError::Empty { side: "baseline" });
    }
    if n_actual == 0 {
        return Err(ScoreError::Empty { side: "window" });
    }
    assert_eq!(
        expected.len(),
        actual.len(),
        "count vectors over the same bins"
    );
    let expected = floored_shares(expected, n_expected, SHARE_FLOOR);
    let actual = floored_shares(actual, n_actual, SHARE_FLOOR);
    Ok(PsiScore {
        psi: psi_from_shares(&expected, &actual),
        expected,
        actual,
    })
}

/// The sum of `values` in NumPy's pairwise order (`np.sum` on a contiguous float64 array):
/// blocks of up to 128 are summed with eight interleaved accumulators, larger arrays are split
/// in two (at a multiple of 8) and the halves added. Matching it makes sums bit-identical.
pub fn numpy_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for &v in values {
            sum += v;
        }
        sum
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += values[i + j];
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &values[i..] {
            sum += v;
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        numpy_sum(&values[..half]) + numpy_sum(&values[half..])
    }
}

#[cfg(test)]
mod tests;
