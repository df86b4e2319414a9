//! Evidently's PSI (version 0.7.23, `evidently.legacy.calculations.stattests.psi`), reproduced
//! for users who compare numbers with it. It differs from the default binning in three ways:
//!
//! 1. **Bins.** When the reference has more than [`DISCRETE_MAX_UNIQUE`] distinct values, the
//!    bins are *equal-width* over the min..max of reference and current *together*, their count
//!    from Sturges' rule on the combined size (`np.histogram_bin_edges(concat, bins="sturges")`),
//!    with `np.histogram`'s half-open bins, the last one closed. Otherwise every distinct value
//!    of either sample is its own bin.
//! 2. **Empty shares**, separately for each sample: a zero share becomes the smallest non-zero
//!    share divided by 10⁶ if that is at most 10⁻⁴, else 10⁻⁴ ([`fill_zeroes`]).
//! 3. **Cleaning**: NaN and ±∞ are dropped from each sample.
//!
//! The statistic is `Σ (r − c) · ln(r / c)`, summed as `np.sum` does. Because the edges depend on
//! the current sample, there is no frozen profile: [`EvidentlyScan`] reads both samples once for
//! their ranges, then [`EvidentlyCounter`] reads them again to count. Memory is one counter per
//! bin, except for the per-value bins of low-cardinality data, where it grows with the distinct
//! values of the current sample.

use super::numpy_sum;
use std::collections::{BTreeMap, BTreeSet};

/// A reference with at most this many distinct values gets one bin per value.
pub const DISCRETE_MAX_UNIQUE: usize = 20;

/// Why Evidently's PSI cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidentlyError {
    /// A sample has no finite value.
    #[error("the {side} sample has no finite values; psi needs at least one on each side")]
    Empty {
        /// `reference` or `current`.
        side: &'static str,
    },
    /// The second pass saw other values than the first.
    #[error(
        "the second pass saw {found} finite {side} values but the first saw {expected}; both passes must read the same data"
    )]
    PassChanged {
        /// `reference` or `current`.
        side: &'static str,
        /// Values in the first pass.
        expected: u64,
        /// Values in the second pass.
        found: u64,
    },
}

/// How the bins were made.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EvidentlyBinning {
    /// Equal-width bins; `edges` has one more entry than there are bins.
    EqualWidth {
        /// All edges, first = combined minimum, last = combined maximum.
        edges: Vec<f64>,
    },
    /// One bin per distinct value, in increasing order.
    Discrete {
        /// The values.
        values: Vec<f64>,
    },
    /// One bin per category, in name order.
    Categories {
        /// The categories.
        categories: Vec<String>,
    },
}

/// Evidently's PSI with the shares it came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EvidentlyPsi {
    /// The index.
    pub psi: f64,
    /// The bins.
    pub binning: EvidentlyBinning,
    /// Reference shares per bin, after [`fill_zeroes`].
    pub reference_shares: Vec<f64>,
    /// Current shares per bin, after [`fill_zeroes`].
    pub current_shares: Vec<f64>,
}

/// Replaces zero shares as Evidently does: by the smallest non-zero share / 10⁶ when that is at
/// most 10⁻⁴, else by 10⁻⁴. Leaves an all-zero vector alone.
pub fn fill_zeroes(shares: &mut [f64]) {
    let Some(min) = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .reduce(f64::min)
    else {
        return;
    };
    let fill = if min <= 0.0001 { min / 1e6 } else { 0.0001 };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// NumPy's Sturges edges for `n` values spanning `min..max` (`min < max`):
/// `width = (max − min) / (log2(n) + 1)`, `bins = ceil((max − min) / width)`, and
/// `np.linspace(min, max, bins + 1)` (`i · step + min`, the last edge exactly `max`).
pub fn sturges_edges(min: f64, max: f64, n: u64) -> Vec<f64> {
    let ptp = max - min;
    let width = ptp / ((n as f64).log2() + 1.0);
    let bins = if width != 0.0 {
        (ptp / width).ceil() as usize
    } else {
        1
    };
    let step = ptp / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + min).collect();
    edges[bins] = max;
    edges
}

/// `np.histogram`'s bin for `x` within `edges`: `[e_i, e_{i+1})`, the last bin closed; `None`
/// outside.
fn histogram_bin(edges: &[f64], x: f64) -> Option<usize> {
    let bins = edges.len() - 1;
    if x < edges[0] || x > edges[bins] {
        return None;
    }
    Some((edges.partition_point(|&e| e <= x) - 1).min(bins - 1))
}

/// Finite, with −0.0 as +0.0 (they are one value to pandas).
fn clean(x: f64) -> Option<f64> {
    x.is_finite().then_some(x + 0.0)
}

/// The first pass: sizes, the combined range and whether the reference is low-cardinality.
#[derive(Clone, Debug, Default)]
pub struct EvidentlyScan {
    reference_n: u64,
    current_n: u64,
    min: f64,
    max: f64,
    reference_distinct: BTreeSet<u64>,
}

impl EvidentlyScan {
    /// A scan that has seen nothing.
    pub fn new() -> EvidentlyScan {
        EvidentlyScan {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..EvidentlyScan::default()
        }
    }

    fn range(&mut self, x: f64) {
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Feeds a reference value.
    pub fn push_reference(&mut self, x: f64) {
        if let Some(x) = clean(x) {
            self.reference_n += 1;
            self.range(x);
            if self.reference_distinct.len() <= DISCRETE_MAX_UNIQUE {
                self.reference_distinct.insert(x.to_bits());
            }
        }
    }

    /// Feeds a current value.
    pub fn push_current(&mut self, x: f64) {
        if let Some(x) = clean(x) {
            self.current_n += 1;
            self.range(x);
        }
    }

    /// Chooses the bins; then feed both samples again to the returned counter.
    pub fn finish(self) -> Result<EvidentlyCounter, EvidentlyError> {
        if self.reference_n == 0 {
            return Err(EvidentlyError::Empty { side: "reference" });
        }
        if self.current_n == 0 {
            return Err(EvidentlyError::Empty { side: "current" });
        }
        let bins = if self.reference_distinct.len() > DISCRETE_MAX_UNIQUE {
            let edges = sturges_edges(self.min, self.max, self.reference_n + self.current_n);
            let n = edges.len() - 1;
            Bins::EqualWidth {
                edges,
                reference: vec![0; n],
                current: vec![0; n],
            }
        } else {
            Bins::Discrete {
                reference: BTreeMap::new(),
                current: BTreeMap::new(),
            }
        };
        Ok(EvidentlyCounter {
            expected: (self.reference_n, self.current_n),
            seen: (0, 0),
            bins,
        })
    }
}

#[derive(Clone, Debug)]
enum Bins {
    EqualWidth {
        edges: Vec<f64>,
        reference: Vec<u64>,
        current: Vec<u64>,
    },
    /// Counts by the bits of the (cleaned) value.
    Discrete {
        reference: BTreeMap<u64, u64>,
        current: BTreeMap<u64, u64>,
    },
}

/// The second pass: counts both samples into the chosen bins.
#[derive(Clone, Debug)]
pub struct EvidentlyCounter {
    expected: (u64, u64),
    seen: (u64, u64),
    bins: Bins,
}

impl EvidentlyCounter {
    fn push(&mut self, x: f64, reference: bool) {
        let Some(x) = clean(x) else { return };
        if reference {
            self.seen.0 += 1;
        } else {
            self.seen.1 += 1;
        }
        match &mut self.bins {
            Bins::EqualWidth {
                edges,
                reference: r,
                current: c,
            } => {
                if let Some(bin) = histogram_bin(edges, x) {
                    if reference {
                        r[bin] += 1;
                    } else {
                        c[bin] += 1;
                    }
                }
            }
            Bins::Discrete {
                reference: r,
                current: c,
            } => {
                let map = if reference { r } else { c };
                *map.entry(x.to_bits()).or_insert(0) += 1;
            }
        }
    }

    /// Feeds a reference value (second pass).
    pub fn push_reference(&mut self, x: f64) {
        self.push(x, true);
    }

    /// Feeds a current value (second pass).
    pub fn push_current(&mut self, x: f64) {
        self.push(x, false);
    }

    /// The PSI.
    pub fn finish(self) -> Result<EvidentlyPsi, EvidentlyError> {
        for (side, expected, found) in [
            ("reference", self.expected.0, self.seen.0),
            ("current", self.expected.1, self.seen.1),
        ] {
            if expected != found {
                return Err(EvidentlyError::PassChanged {
                    side,
                    expected,
                    found,
                });
            }
        }
        let (n_ref, n_cur) = (self.expected.0 as f64, self.expected.1 as f64);
        let (binning, reference, current) = match self.bins {
            Bins::EqualWidth {
                edges,
                reference,
                current,
            } => (EvidentlyBinning::EqualWidth { edges }, reference, current),
            Bins::Discrete { reference, current } => {
                let mut values: Vec<f64> = reference
                    .keys()
                    .chain(current.keys())
                    .map(|&bits| f64::from_bits(bits))
                    .collect();
                values.sort_by(f64::total_cmp);
                values.dedup_by(|a, b| a.to_bits() == b.to_bits());
                let count =
                    |map: &BTreeMap<u64, u64>, v: &f64| map.get(&v.to_bits()).copied().unwrap_or(0);
                let r = values.iter().map(|v| count(&reference, v)).collect();
                let c = values.iter().map(|v| count(&current, v)).collect();
                (EvidentlyBinning::Discrete { values }, r, c)
            }
        };
        Ok(finish_shares(binning, &reference, n_ref, &current, n_cur))
    }
}

fn finish_shares(
    binning: EvidentlyBinning,
    reference: &[u64],
    n_ref: f64,
    current: &[u64],
    n_cur: f64,
) -> EvidentlyPsi {
    let mut reference_shares: Vec<f64> = reference.iter().map(|&c| c as f64 / n_ref).collect();
    let mut current_shares: Vec<f64> = current.iter().map(|&c| c as f64 / n_cur).collect();
    fill_zeroes(&mut reference_shares);
    fill_zeroes(&mut current_shares);
    let terms: Vec<f64> = reference_shares
        .iter()
        .zip(&current_shares)
        .map(|(&r, &c)| (r - c) * (r / c).ln())
        .collect();
    EvidentlyPsi {
        psi: numpy_sum(&terms),
        binning,
        reference_shares,
        current_shares,
    }
}

/// Evidently's PSI of two in-memory numeric samples (both passes over the slices).
pub fn evidently_psi(reference: &[f64], current: &[f64]) -> Result<EvidentlyPsi, EvidentlyError> {
    let mut scan = EvidentlyScan::new();
    reference.iter().for_each(|&x| scan.push_reference(x));
    current.iter().for_each(|&x| scan.push_current(x));
    let mut counter = scan.finish()?;
    reference.iter().for_each(|&x| counter.push_reference(x));
    current.iter().for_each(|&x| counter.push_current(x));
    counter.finish()
}

/// Evidently's PSI of a categorical feature from the category counts of each sample: one bin
/// per category of either sample.
pub fn evidently_psi_categorical(
    reference: &BTreeMap<String, u64>,
    current: &BTreeMap<String, u64>,
) -> Result<EvidentlyPsi, EvidentlyError> {
    let n_ref: u64 = reference.values().sum();
    let n_cur: u64 = current.values().sum();
    if n_ref == 0 {
        return Err(EvidentlyError::Empty { side: "reference" });
    }
    if n_cur == 0 {
        return Err(EvidentlyError::Empty { side: "current" });
    }
    let categories: Vec<String> = reference
        .keys()
        .chain(current.keys())
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let r: Vec<u64> = categories
        .iter()
        .map(|k| reference.get(k).copied().unwrap_or(0))
        .collect();
    let c: Vec<u64> = categories
        .iter()
        .map(|k| current.get(k).copied().unwrap_or(0))
        .collect();
    Ok(finish_shares(
        EvidentlyBinning::Categories { categories },
        &r,
        n_ref as f64,
        &c,
        n_cur as f64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_zeroes_follows_evidently() {
        let mut shares = [0.5, 0.0, 0.5];
        fill_zeroes(&mut shares);
        assert_eq!(shares, [0.5, 0.0001, 0.5]);
        let mut shares = [0.99995, 0.00005, 0.0];
        fill_zeroes(&mut shares);
        assert_eq!(shares, [0.99995, 0.00005, 0.00005 / 1e6]);
        let mut shares = [0.0, 0.0];
        fill_zeroes(&mut shares);
        assert_eq!(shares, [0.0, 0.0]);
    }

    #[test]
    fn sturges_bin_counts() {
        // ceil(log2(n) + 1): 19 bins for 2 x 100k, 22 for 2 x 1M (shared/reference/drift.md).
        assert_eq!(sturges_edges(0.0, 1.0, 200_000).len() - 1, 19);
        assert_eq!(sturges_edges(0.0, 1.0, 2_000_000).len() - 1, 22);
        let edges = sturges_edges(-1.0, 3.0, 2);
        assert_eq!(edges, vec![-1.0, 1.0, 3.0]);
    }

    #[test]
    fn histogram_bins_close_the_last_edge() {
        let edges = [0.0, 1.0, 2.0];
        assert_eq!(histogram_bin(&edges, 0.0), Some(0));
        assert_eq!(histogram_bin(&edges, 1.0), Some(1));
        assert_eq!(histogram_bin(&edges, 2.0), Some(1));
        assert_eq!(histogram_bin(&edges, 2.5), None);
        assert_eq!(histogram_bin(&edges, -0.1), None);
    }

    #[test]
    fn empty_samples_are_refused() {
        let err = evidently_psi(&[f64::NAN], &[1.0]).unwrap_err();
        assert_eq!(err, EvidentlyError::Empty { side: "reference" });
        assert_eq!(
            evidently_psi(&[1.0], &[f64::INFINITY])
                .unwrap_err()
                .to_string(),
            "the current sample has no finite values; psi needs at least one on each side"
        );
    }

    #[test]
    fn changed_second_pass_is_refused() {
        let mut scan = EvidentlyScan::new();
        scan.push_reference(1.0);
        scan.push_current(2.0);
        let mut counter = scan.finish().unwrap();
        counter.push_reference(1.0);
        let err = counter.finish().unwrap_err();
        assert_eq!(
            err,
            EvidentlyError::PassChanged {
                side: "current",
                expected: 1,
                found: 0
            }
        );
    }

    #[test]
    fn categorical_union_of_categories() {
        let r: BTreeMap<String, u64> = [("a".to_string(), 3), ("b".to_string(), 1)].into();
        let c: BTreeMap<String, u64> = [("a".to_string(), 1), ("c".to_string(), 1)].into();
        let psi = evidently_psi_categorical(&r, &c).unwrap();
        assert_eq!(
            psi.binning,
            EvidentlyBinning::Categories {
                categories: vec!["a".into(), "b".into(), "c".into()]
            }
        );
        assert_eq!(psi.reference_shares, vec![0.75, 0.25, 0.0001]);
        assert_eq!(psi.current_shares, vec![0.5, 0.0001, 0.5]);
        let expected = (0.75f64 - 0.5) * (0.75f64 / 0.5).ln()
            + (0.25f64 - 0.0001) * (0.25f64 / 0.0001).ln()
            + (0.0001f64 - 0.5) * (0.0001f64 / 0.5).ln();
        assert!((psi.psi - expected).abs() < 1e-12);
    }
}
