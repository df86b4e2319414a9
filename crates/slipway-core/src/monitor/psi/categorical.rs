//! Categorical features: one bin per baseline category, plus `other` for values the baseline did
//! not have (or that fell outside its most frequent categories).

use super::{HistogramMismatch, PsiScore, ScoreError, psi_from_counts};
use std::collections::BTreeMap;

/// The name of the bucket for categories the baseline does not list.
pub const OTHER: &str = "<other>";

/// Counts categories of a baseline while it is read; memory grows with the number of distinct
/// categories. [`CategoryCounter::finish`] freezes it into a [`CategoricalBaseline`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CategoryCounter {
    counts: BTreeMap<String, u64>,
    missing: u64,
}

impl CategoryCounter {
    /// An empty counter.
    pub fn new() -> CategoryCounter {
        CategoryCounter::default()
    }

    /// Counts one value.
    pub fn push(&mut self, value: &str) {
        match self.counts.get_mut(value) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(value.to_string(), 1);
            }
        }
    }

    /// Counts a missing value (null); missing values take no share.
    pub fn push_missing(&mut self) {
        self.missing += 1;
    }

    /// Adds another counter's counts.
    pub fn merge(&mut self, other: &CategoryCounter) {
        for (k, v) in &other.counts {
            *self.counts.entry(k.clone()).or_insert(0) += v;
        }
        self.missing += other.missing;
    }

    /// The counts so far.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Freezes the baseline, keeping at most `max_categories` categories (the most frequent;
    /// ties broken by name) and counting the rest as `other`.
    pub fn finish(self, max_categories: usize) -> CategoricalBaseline {
        let mut by_count: Vec<(String, u64)> = self.counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rest: u64 = by_count.iter().skip(max_categories).map(|(_, c)| c).sum();
        by_count.truncate(max_categories);
        by_count.sort_by(|a, b| a.0.cmp(&b.0));
        let (categories, mut counts): (Vec<String>, Vec<u64>) = by_count.into_iter().unzip();
        counts.push(rest);
        CategoricalBaseline { categories, counts }
    }
}

/// A categorical feature's baseline: its categories (sorted) and the count of each, then the
/// count of `other` (last).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawCategorical")]
pub struct CategoricalBaseline {
    categories: Vec<String>,
    counts: Vec<u64>,
}

impl CategoricalBaseline {
    /// The categories, sorted; the bins are these and then `other`.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// Counts per bin, `other` last.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// An empty window over this baseline's bins.
    pub fn window(&self) -> CategoricalHistogram {
        CategoricalHistogram {
            categories: self.categories.clone(),
            counts: vec![0; self.counts.len()],
            missing: 0,
        }
    }

    /// The PSI of a window counted over this baseline's bins.
    pub fn score(&self, window: &CategoricalHistogram) -> Result<PsiScore, ScoreError> {
        if window.categories != self.categories {
            return Err(HistogramMismatch {
                left: self.counts.len(),
                right: window.counts.len(),
            }
            .into());
        }
        psi_from_counts(&self.counts, &window.counts)
    }
}

/// A stored categorical baseline whose categories are not strictly sorted, or whose counts do
/// not match them (one per category, then `other`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "categorical baseline has {categories} categories and {counts} counts; it needs sorted, distinct categories and one count per category plus one for other"
)]
pub struct CategoricalShapeError {
    /// Categories found.
    pub categories: usize,
    /// Counts found.
    pub counts: usize,
}

#[derive(serde::Deserialize)]
struct RawCategorical {
    categories: Vec<String>,
    counts: Vec<u64>,
}

impl TryFrom<RawCategorical> for CategoricalBaseline {
    type Error = CategoricalShapeError;
    fn try_from(raw: RawCategorical) -> Result<CategoricalBaseline, CategoricalShapeError> {
        let sorted = raw.categories.windows(2).all(|w| w[0] < w[1]);
        if !sorted || raw.counts.len() != raw.categories.len() + 1 {
            return Err(CategoricalShapeError {
                categories: raw.categories.len(),
                counts: raw.counts.len(),
            });
        }
        Ok(CategoricalBaseline {
            categories: raw.categories,
            counts: raw.counts,
        })
    }
}

/// A window's counts over a categorical baseline's bins: memory is one counter per baseline
/// category, whatever the window holds. Built from a baseline ([`CategoricalBaseline::window`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawWindow")]
pub struct CategoricalHistogram {
    categories: Vec<String>,
    counts: Vec<u64>,
    missing: u64,
}

#[derive(serde::Deserialize)]
struct RawWindow {
    categories: Vec<String>,
    counts: Vec<u64>,
    #[serde(default)]
    missing: u64,
}

impl TryFrom<RawWindow> for CategoricalHistogram {
    type Error = CategoricalShapeError;
    fn try_from(raw: RawWindow) -> Result<CategoricalHistogram, CategoricalShapeError> {
        let shape = CategoricalBaseline::try_from(RawCategorical {
            categories: raw.categories,
            counts: raw.counts,
        })?;
        Ok(CategoricalHistogram {
            categories: shape.categories,
            counts: shape.counts,
            missing: raw.missing,
        })
    }
}

impl CategoricalHistogram {
    /// Counts one value: its category's bin, or `other`.
    pub fn push(&mut self, value: &str) {
        let bin = self
            .categories
            .binary_search_by(|c| c.as_str().cmp(value))
            .unwrap_or(self.categories.len());
        self.counts[bin] += 1;
    }

    /// Counts a missing value; it takes no share.
    pub fn push_missing(&mut self) {
        self.missing += 1;
    }

    /// Adds another window's counts over the same baseline.
    pub fn merge(&mut self, other: &CategoricalHistogram) -> Result<(), HistogramMismatch> {
        if other.categories != self.categories {
            return Err(HistogramMismatch {
                left: self.counts.len(),
                right: other.counts.len(),
            });
        }
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.missing += other.missing;
        Ok(())
    }

    /// Counts per bin, `other` last.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Missing values seen.
    pub fn missing(&self) -> u64 {
        self.missing
    }
}
