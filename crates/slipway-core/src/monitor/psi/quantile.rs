//! NumPy's linear quantiles, in memory and exactly in bounded-memory streaming passes.

use super::numeric::{
    FitError, Histogram, NumericBaseline, check_bins, edges_from_order_statistics,
};
use std::collections::BTreeMap;

/// The cut points `1/bins, 2/bins, …, (bins−1)/bins`, each correctly rounded, so for 10 bins
/// they are exactly the literals `0.1, 0.2, …, 0.9`. (`np.linspace(0, 1, 11)[1:-1]` differs in
/// the last bit for 0.3, 0.6 and 0.7.)
pub fn quantile_cut_points(bins: usize) -> Vec<f64> {
    (1..bins).map(|i| i as f64 / bins as f64).collect()
}

/// NumPy's default (`method="linear"`) quantile `p` of `n` sorted values, given the value of each
/// rank (0-based): virtual index `v = (n − 1) · p`, `a`/`b` the values at `floor(v)` and the
/// next rank (both the last value when `v >= n − 1`), `t = v − floor(v)`, and NumPy's `_lerp`:
/// `a + (b − a)·t`, or `b − (b − a)·(1 − t)` when `t >= 0.5`.
///
/// # Panics
/// If `n` is 0.
pub fn numpy_quantile(n: u64, p: f64, value_at: impl Fn(u64) -> f64) -> f64 {
    assert!(n > 0, "quantile of no values");
    let last = n - 1;
    let v = last as f64 * p;
    let floor = v.floor();
    let t = v - floor;
    let (a, b) = if v >= last as f64 {
        let x = value_at(last);
        (x, x)
    } else {
        let prev = floor as u64;
        (value_at(prev), value_at(prev + 1))
    };
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// NumPy's linear quantile `p` of an already sorted, NaN-free slice.
///
/// # Panics
/// If `sorted` is empty.
pub fn numpy_quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    numpy_quantile(sorted.len() as u64, p, |rank| sorted[rank as usize])
}

/// The ranks the quantiles at `cut_points` read.
fn ranks_needed(n: u64, cut_points: &[f64]) -> Vec<u64> {
    let last = n - 1;
    let mut ranks: Vec<u64> = Vec::with_capacity(2 * cut_points.len());
    for &p in cut_points {
        let v = last as f64 * p;
        if v >= last as f64 {
            ranks.push(last);
        } else {
            let prev = v.floor() as u64;
            ranks.push(prev);
            ranks.push(prev + 1);
        }
    }
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// A finite value as a `u64` whose unsigned order is the value's order (−0.0 must have been
/// turned into +0.0 first).
fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn from_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// Bits of the key resolved by the first pass.
const FIRST_BITS: u32 = 16;
/// Bits of the key resolved by each later splitting pass.
const SPLIT_BITS: u32 = 12;
/// The default for [`NumericFit::with_collect_limit`].
const DEFAULT_COLLECT_LIMIT: u64 = 1 << SPLIT_BITS;

/// Fits a [`NumericBaseline`] exactly (bit-identical to [`NumericBaseline::fit`]) from a
/// baseline read several times, in memory independent of its size.
///
/// Feed every value of the baseline with [`NumericFit::push`], then call
/// [`NumericFit::finish_pass`]; while it answers [`FitStep::AnotherPass`], feed the same values
/// again (in any order). A pass is one read of the baseline.
///
/// How: the order statistics NumPy's quantiles read are found by radix selection on the
/// order-preserving 64-bit key of each value. The first pass counts the values by the top 16 bits
/// of their key (65,536 counters); each later pass either splits the ranges that hold a needed
/// rank by the next 12 bits (4,096 counters each) or, once such a range holds at most the
/// collect limit of values (4,096 by default), keeps those values and sorts them. A final pass
/// counts the baseline into the edges. Typically 3–4 passes; at most 6. Memory: 512 KiB in the
/// first pass, then at most 32 KiB per needed rank (two per cut point).
#[derive(Clone, Debug)]
pub struct NumericFit {
    bins: usize,
    collect_limit: u64,
    pass: u32,
    seen: u64,
    dropped: u64,
    first_pass_n: u64,
    stage: Stage,
}

#[derive(Clone, Debug)]
enum Stage {
    Coarse(Vec<u64>),
    Select {
        groups: Vec<Group>,
        resolved: BTreeMap<u64, f64>,
    },
    Count(Histogram),
}

/// A range of keys `[lo, lo + 2^shift)` that holds needed ranks.
#[derive(Clone, Debug)]
struct Group {
    lo: u64,
    shift: u32,
    /// Values with a key below `lo`.
    below: u64,
    ranks: Vec<u64>,
    mode: Mode,
}

#[derive(Clone, Debug)]
enum Mode {
    Split(Vec<u64>),
    Collect(Vec<f64>),
}

/// What [`NumericFit::finish_pass`] leads to.
#[derive(Clone, Debug)]
pub enum FitStep {
    /// Feed the baseline again, then finish that pass.
    AnotherPass(NumericFit),
    /// The fitted baseline.
    Done(NumericBaseline),
}

impl NumericFit {
    /// A fit with `bins` bins (1 to [`super::MAX_BINS`]).
    pub fn new(bins: usize) -> Result<NumericFit, FitError> {
        check_bins(bins)?;
        Ok(NumericFit {
            bins,
            collect_limit: DEFAULT_COLLECT_LIMIT,
            pass: 1,
            seen: 0,
            dropped: 0,
            first_pass_n: 0,
            stage: Stage::Coarse(vec![0; 1 << FIRST_BITS]),
        })
    }

    /// Keep the values of a range once it holds at most `limit` values (at least 1) instead of
    /// splitting it further: more memory, fewer passes.
    pub fn with_collect_limit(mut self, limit: u64) -> NumericFit {
        self.collect_limit = limit.max(1);
        self
    }

    /// The pass being fed (1-based).
    pub fn pass(&self) -> u32 {
        self.pass
    }

    /// Feeds one baseline value; NaN and ±∞ are dropped.
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            self.dropped += 1;
            return;
        }
        self.seen += 1;
        let x = x + 0.0;
        match &mut self.stage {
            Stage::Coarse(counts) => counts[(key(x) >> (64 - FIRST_BITS)) as usize] += 1,
            Stage::Select { groups, .. } => {
                let k = key(x);
                let at = groups.partition_point(|g| g.lo <= k);
                if at == 0 {
                    return;
                }
                let group = &mut groups[at - 1];
                if k >> group.shift != group.lo >> group.shift {
                    return;
                }
                match &mut group.mode {
                    Mode::Split(counts) => {
                        let sub = (k >> (group.shift - SPLIT_BITS)) & ((1 << SPLIT_BITS) - 1);
                        counts[sub as usize] += 1;
                    }
                    Mode::Collect(values) => values.push(x),
                }
            }
            Stage::Count(histogram) => histogram.push(x),
        }
    }

    /// Feeds a slice of values: [`NumericFit::push`] for each, with the pass's stage looked at
    /// once per slice instead of once per value.
    pub fn push_slice(&mut self, xs: &[f64]) {
        match &mut self.stage {
            Stage::Coarse(counts) => {
                for &x in xs {
                    if x.is_finite() {
                        counts[(key(x + 0.0) >> (64 - FIRST_BITS)) as usize] += 1;
                        self.seen += 1;
                    } else {
                        self.dropped += 1;
                    }
                }
            }
            Stage::Count(histogram) => {
                for &x in xs {
                    if x.is_finite() {
                        self.seen += 1;
                        histogram.push(x + 0.0);
                    } else {
                        self.dropped += 1;
                    }
                }
            }
            Stage::Select { .. } => {
                for &x in xs {
                    self.push(x);
                }
            }
        }
    }

    /// Ends the pass just fed.
    pub fn finish_pass(mut self) -> Result<FitStep, FitError> {
        let seen = std::mem::take(&mut self.seen);
        let dropped = std::mem::take(&mut self.dropped);
        if self.pass == 1 {
            if seen == 0 {
                return Err(FitError::Empty { dropped });
            }
            self.first_pass_n = seen;
        } else if seen != self.first_pass_n {
            return Err(FitError::PassChanged {
                pass: self.pass,
                expected: self.first_pass_n,
                found: seen,
            });
        }
        let n = self.first_pass_n;
        let mut resolved = BTreeMap::new();
        let mut next = Vec::new();
        match std::mem::replace(&mut self.stage, Stage::Coarse(Vec::new())) {
            Stage::Coarse(counts) => {
                let ranks = ranks_needed(n, &quantile_cut_points(self.bins));
                self.descend(
                    0,
                    64,
                    FIRST_BITS,
                    0,
                    &counts,
                    ranks,
                    &mut next,
                    &mut resolved,
                );
            }
            Stage::Select {
                groups,
                resolved: done,
            } => {
                resolved = done;
                for group in groups {
                    match group.mode {
                        Mode::Split(counts) => self.descend(
                            group.lo,
                            group.shift,
                            SPLIT_BITS,
                            group.below,
                            &counts,
                            group.ranks,
                            &mut next,
                            &mut resolved,
                        ),
                        Mode::Collect(mut values) => {
                            values.sort_by(f64::total_cmp);
                            for rank in group.ranks {
                                resolved.insert(rank, values[(rank - group.below) as usize]);
                            }
                        }
                    }
                }
            }
            Stage::Count(mut histogram) => {
                histogram.add_dropped(dropped);
                return Ok(FitStep::Done(NumericBaseline::from_histogram(histogram)));
            }
        }
        self.pass += 1;
        self.stage = if next.is_empty() {
            let edges = edges_from_order_statistics(n, self.bins, |rank| resolved[&rank]);
            Stage::Count(Histogram::new(edges))
        } else {
            next.sort_by_key(|g| g.lo);
            Stage::Select {
                groups: next,
                resolved,
            }
        };
        Ok(FitStep::AnotherPass(self))
    }

    /// Splits the range `[lo, lo + 2^shift)`, whose sub-ranges of `2^(shift − bits)` keys hold
    /// `counts`, and assigns each needed rank to its sub-range: a new group, or a resolved value
    /// when the sub-range is a single key.
    #[allow(clippy::too_many_arguments)]
    fn descend(
        &self,
        lo: u64,
        shift: u32,
        bits: u32,
        below: u64,
        counts: &[u64],
        ranks: Vec<u64>,
        next: &mut Vec<Group>,
        resolved: &mut BTreeMap<u64, f64>,
    ) {
        let sub_shift = shift - bits;
        let mut cumulative = below;
        let mut ranks = ranks.into_iter().peekable();
        for (bucket, &count) in counts.iter().enumerate() {
            let end = cumulative + count;
            let mut here = Vec::new();
            while let Some(&rank) = ranks.peek() {
                if rank < end {
                    here.push(rank);
                    ranks.next();
                } else {
                    break;
                }
            }
            if !here.is_empty() {
                let sub_lo = lo | ((bucket as u64) << sub_shift);
                if sub_shift == 0 {
                    for rank in here {
                        resolved.insert(rank, from_key(sub_lo));
                    }
                } else {
                    let mode = if count <= self.collect_limit {
                        Mode::Collect(Vec::with_capacity(count as usize))
                    } else {
                        Mode::Split(vec![0; 1 << SPLIT_BITS])
                    };
                    next.push(Group {
                        lo: sub_lo,
                        shift: sub_shift,
                        below: cumulative,
                        ranks: here,
                        mode,
                    });
                }
            }
            cumulative = end;
        }
        debug_assert!(ranks.peek().is_none(), "every rank lies in some bucket");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_order() {
        let xs = [
            f64::MIN,
            -1e300,
            -2.5,
            -1.0,
            -1e-310,
            0.0,
            1e-310,
            0.5,
            1.0,
            3.0,
            1e300,
            f64::MAX,
        ];
        for w in xs.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn cut_points_are_the_decimal_literals() {
        assert_eq!(
            quantile_cut_points(10),
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        );
        assert_eq!(quantile_cut_points(4), vec![0.25, 0.5, 0.75]);
        assert!(quantile_cut_points(1).is_empty());
    }

    #[test]
    fn quantile_matches_numpy_hand_cases() {
        // np.quantile([1, 2, 3, 4], [0.1, 0.5, 0.9]) = [1.3, 2.5, 3.7]
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(numpy_quantile_sorted(&xs, 0.1), 1.3);
        assert_eq!(numpy_quantile_sorted(&xs, 0.5), 2.5);
        assert_eq!(numpy_quantile_sorted(&xs, 0.9), 3.7);
        assert_eq!(numpy_quantile_sorted(&[7.0], 0.3), 7.0);
        assert_eq!(numpy_quantile_sorted(&xs, 1.0), 4.0);
        assert_eq!(ranks_needed(4, &[0.1, 0.5, 1.0]), vec![0, 1, 2, 3]);
    }

    #[test]
    fn upper_half_interpolates_from_the_right_as_numpy_does() {
        // np.quantile(xs, 0.5) is -0.20800000000000002; `a + (b - a) * t` would give
        // -0.20799999999999996.
        let xs = [-3.973, -2.354, -1.658, -0.745, 0.329, 1.261, 2.246, 3.408];
        assert_eq!(numpy_quantile_sorted(&xs, 0.5), -0.20800000000000002);
    }
}
