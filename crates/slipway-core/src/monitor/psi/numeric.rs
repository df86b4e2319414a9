//! Frozen bin edges, the histogram that counts a window into them, and the fitted numeric
//! baseline.

use super::quantile::quantile_cut_points;
use super::{MAX_BINS, PsiScore, ScoreError, psi_from_counts};

/// The interior edges of numeric bins: finite, non-decreasing. `k` edges make `k + 1` bins, the
/// outer two open to −∞ and +∞; a value equal to an edge belongs to the bin on its right.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<f64>", into = "Vec<f64>")]
pub struct BinEdges(Vec<f64>);

/// Edges that are not finite or not in order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EdgesError {
    /// An edge is NaN or infinite.
    #[error("bin edge {index} is {value}; every edge must be a finite number")]
    NotFinite {
        /// Position of the edge.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// An edge is smaller than the one before it.
    #[error("bin edge {index} ({value}) is smaller than edge {} ({previous}); edges must not decrease", .index - 1)]
    Decreasing {
        /// Position of the edge.
        index: usize,
        /// Its value.
        value: f64,
        /// The edge before it.
        previous: f64,
    },
    /// More edges than [`MAX_BINS`] bins allow.
    #[error("{count} bin edges make more than {MAX_BINS} bins; use fewer bins")]
    TooMany {
        /// The number of edges given.
        count: usize,
    },
}

impl BinEdges {
    /// Checked edges.
    pub fn new(edges: Vec<f64>) -> Result<BinEdges, EdgesError> {
        if edges.len() >= MAX_BINS {
            return Err(EdgesError::TooMany { count: edges.len() });
        }
        for (index, &value) in edges.iter().enumerate() {
            if !value.is_finite() {
                return Err(EdgesError::NotFinite { index, value });
            }
            if index > 0 && value < edges[index - 1] {
                return Err(EdgesError::Decreasing {
                    index,
                    value,
                    previous: edges[index - 1],
                });
            }
        }
        Ok(BinEdges(edges))
    }

    /// The edges.
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// The number of bins (edges + 1).
    pub fn bins(&self) -> usize {
        self.0.len() + 1
    }

    /// The bin of a (non-NaN) value: the number of edges `<= x`, as
    /// `np.searchsorted(edges, x, side="right")`.
    pub fn bin_of(&self, x: f64) -> usize {
        // For the usual handful of edges, counting every edge ≤ x is branch-free (and
        // vectorised), which beats a binary search's unpredictable branches; same answer.
        if self.0.len() <= 32 {
            self.0.iter().map(|&e| usize::from(e <= x)).sum()
        } else {
            self.0.partition_point(|&e| e <= x)
        }
    }
}

impl TryFrom<Vec<f64>> for BinEdges {
    type Error = EdgesError;
    fn try_from(edges: Vec<f64>) -> Result<BinEdges, EdgesError> {
        BinEdges::new(edges)
    }
}

impl From<BinEdges> for Vec<f64> {
    fn from(edges: BinEdges) -> Vec<f64> {
        edges.0
    }
}

/// Counts of values per bin of some frozen edges, plus the values dropped (NaN, ±∞). Counting is
/// one comparison search per value; memory is one counter per bin. Histograms over the same
/// edges merge exactly.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawHistogram")]
pub struct Histogram {
    edges: BinEdges,
    counts: Vec<u64>,
    dropped: u64,
}

/// A histogram as read, before its shape is checked.
#[derive(serde::Deserialize)]
struct RawHistogram {
    edges: BinEdges,
    counts: Vec<u64>,
    #[serde(default)]
    dropped: u64,
}

impl TryFrom<RawHistogram> for Histogram {
    type Error = HistogramMismatch;
    fn try_from(raw: RawHistogram) -> Result<Histogram, HistogramMismatch> {
        if raw.counts.len() != raw.edges.bins() {
            return Err(HistogramMismatch {
                left: raw.edges.bins(),
                right: raw.counts.len(),
            });
        }
        Ok(Histogram {
            edges: raw.edges,
            counts: raw.counts,
            dropped: raw.dropped,
        })
    }
}

/// Two histograms (or a baseline and a window) over different edges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "histograms have different bin edges ({left} vs {right} bins); count both with the baseline's frozen edges"
)]
pub struct HistogramMismatch {
    /// Bins on the left side.
    pub left: usize,
    /// Bins on the right side.
    pub right: usize,
}

impl Histogram {
    /// An empty histogram over `edges`.
    pub fn new(edges: BinEdges) -> Histogram {
        let bins = edges.bins();
        Histogram {
            edges,
            counts: vec![0; bins],
            dropped: 0,
        }
    }

    /// Counts one value; NaN and ±∞ are dropped (and counted in [`Histogram::dropped`]).
    pub fn push(&mut self, x: f64) {
        if x.is_finite() {
            self.counts[self.edges.bin_of(x)] += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// Counts every value.
    pub fn extend(&mut self, values: impl IntoIterator<Item = f64>) {
        for x in values {
            self.push(x);
        }
    }

    /// Adds another histogram's counts; refuses one over other edges (compared bit for bit).
    pub fn merge(&mut self, other: &Histogram) -> Result<(), HistogramMismatch> {
        let same = self.edges.0.len() == other.edges.0.len()
            && self
                .edges
                .0
                .iter()
                .zip(&other.edges.0)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        if !same {
            return Err(HistogramMismatch {
                left: self.edges.bins(),
                right: other.edges.bins(),
            });
        }
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.dropped += other.dropped;
        Ok(())
    }

    pub(super) fn add_dropped(&mut self, dropped: u64) {
        self.dropped += dropped;
    }

    /// The edges counted into.
    pub fn edges(&self) -> &BinEdges {
        &self.edges
    }

    /// Values per bin.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Values counted (dropped ones excluded).
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Values dropped because they were NaN or infinite.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// A numeric feature's baseline: the frozen edges and the baseline's counts in them. Shares are
/// `count / total` floored at [`super::SHARE_FLOOR`] when scored.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NumericBaseline {
    histogram: Histogram,
}

/// Why a numeric baseline cannot be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    /// The bin count is out of range.
    #[error("bin count {bins} is not valid; use between 1 and {MAX_BINS} bins")]
    Bins {
        /// The bin count given.
        bins: usize,
    },
    /// The baseline has no finite value.
    #[error(
        "the baseline has no finite values ({dropped} NaN or infinite dropped); a baseline needs at least one"
    )]
    Empty {
        /// NaN and infinite values seen.
        dropped: u64,
    },
    /// A pass saw a different number of values than the first pass: the input changed between
    /// passes.
    #[error(
        "pass {pass} saw {found} finite values but the first pass saw {expected}; every pass must read the same baseline"
    )]
    PassChanged {
        /// The pass (1-based).
        pass: u32,
        /// Values in the first pass.
        expected: u64,
        /// Values in this pass.
        found: u64,
    },
}

pub(super) fn check_bins(bins: usize) -> Result<(), FitError> {
    if (1..=MAX_BINS).contains(&bins) {
        Ok(())
    } else {
        Err(FitError::Bins { bins })
    }
}

/// Interior edges from the sorted finite baseline: NumPy's linear quantiles at the cut points,
/// made non-decreasing. (NumPy's own edges can come out one ulp out of order where two cut points
/// fall between the same two values; `np.histogram` would refuse those, and raising the smaller
/// edge to its predecessor changes no count except where NumPy has no answer.)
pub(super) fn edges_from_order_statistics(
    n: u64,
    bins: usize,
    value_at: impl Fn(u64) -> f64,
) -> BinEdges {
    let mut edges: Vec<f64> = quantile_cut_points(bins)
        .into_iter()
        .map(|p| super::quantile::numpy_quantile(n, p, &value_at))
        .collect();
    for i in 1..edges.len() {
        if edges[i] < edges[i - 1] {
            edges[i] = edges[i - 1];
        }
    }
    BinEdges::new(edges).expect("quantiles of finite values are finite and ordered")
}

impl NumericBaseline {
    /// Fits a baseline in memory: copies the finite values (8 bytes each) and sorts them, then
    /// takes NumPy's linear quantiles at `1/bins, …, (bins−1)/bins` and counts the values into
    /// the resulting bins. For data that does not fit in memory use [`super::NumericFit`],
    /// which gives the same result bit for bit in a few streaming passes.
    pub fn fit(values: &[f64], bins: usize) -> Result<NumericBaseline, FitError> {
        check_bins(bins)?;
        let mut sorted: Vec<f64> = values
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .map(|x| x + 0.0)
            .collect();
        let dropped = (values.len() - sorted.len()) as u64;
        if sorted.is_empty() {
            return Err(FitError::Empty { dropped });
        }
        sorted.sort_by(f64::total_cmp);
        let edges =
            edges_from_order_statistics(sorted.len() as u64, bins, |rank| sorted[rank as usize]);
        let mut histogram = Histogram::new(edges);
        histogram.extend(sorted.iter().copied());
        histogram.dropped = dropped;
        Ok(NumericBaseline { histogram })
    }

    /// A baseline from edges and counts recorded earlier (e.g. read from a stored profile).
    pub fn from_counts(
        edges: BinEdges,
        counts: Vec<u64>,
    ) -> Result<NumericBaseline, HistogramMismatch> {
        if counts.len() != edges.bins() {
            return Err(HistogramMismatch {
                left: edges.bins(),
                right: counts.len(),
            });
        }
        Ok(NumericBaseline {
            histogram: Histogram {
                edges,
                counts,
                dropped: 0,
            },
        })
    }

    pub(super) fn from_histogram(histogram: Histogram) -> NumericBaseline {
        NumericBaseline { histogram }
    }

    /// The frozen edges.
    pub fn edges(&self) -> &BinEdges {
        &self.histogram.edges
    }

    /// The baseline's counts per bin (its histogram).
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// An empty histogram over the frozen edges, to count a window into.
    pub fn window(&self) -> Histogram {
        Histogram::new(self.histogram.edges.clone())
    }

    /// The PSI of a window counted into this baseline's edges.
    pub fn score(&self, window: &Histogram) -> Result<PsiScore, ScoreError> {
        if window.edges != self.histogram.edges {
            return Err(HistogramMismatch {
                left: self.histogram.edges.bins(),
                right: window.edges.bins(),
            }
            .into());
        }
        psi_from_counts(&self.histogram.counts, &window.counts)
    }

    /// Counts `values` into a fresh window and scores it.
    pub fn score_values(&self, values: &[f64]) -> Result<PsiScore, ScoreError> {
        let mut window = self.window();
        window.extend(values.iter().copied());
        self.score(&window)
    }
}
