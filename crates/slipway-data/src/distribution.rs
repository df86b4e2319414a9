//! The distribution test: each column's PSI between the data and a reference dataset, with the
//! monitoring issue's binning (`slipway_core::monitor::psi`): numeric columns in quantile bins
//! frozen from the reference (fitted exactly in a few streaming passes, bounded memory),
//! string and bool columns one bin per reference category plus `other`.

use crate::DataError;
use crate::schema::ColumnType;
use crate::table::TableReader;
use crate::typed::{Typed, convert};
use arrow::array::Array;
use slipway_core::monitor::psi::{
    CategoricalBaseline, CategoricalHistogram, CategoryCounter, FitStep, Histogram,
    NumericBaseline, NumericFit,
};
use slipway_core::reports::Level;
use std::path::Path;

/// How the distribution test runs.
#[derive(Clone, Debug, PartialEq)]
pub struct PsiOptions {
    /// A column fails when its PSI is at or above this (default 0.25, "significant").
    pub threshold: f64,
    /// Quantile bins for numeric columns (default 10).
    pub bins: usize,
    /// Only these columns (default: every schema column present in both tables).
    pub columns: Option<Vec<String>>,
    /// `error` (default) or `warn`.
    pub level: Level,
    /// Most categories kept per categorical column (default 100; the rest are `other`).
    pub max_categories: usize,
}

impl Default for PsiOptions {
    fn default() -> PsiOptions {
        PsiOptions {
            threshold: 0.25,
            bins: 10,
            columns: None,
            level: Level::Error,
            max_categories: 100,
        }
    }
}

/// A column's frozen reference bins.
pub enum Reference {
    /// Quantile bins.
    Numeric(NumericBaseline),
    /// Categories.
    Categorical(CategoricalBaseline),
}

/// A column's counts in the data, over the reference's bins.
pub enum Window {
    /// Numeric counts.
    Numeric(Histogram),
    /// Category counts.
    Categorical(CategoricalHistogram),
}

impl Reference {
    /// The reference a stored profile's feature describes.
    pub fn from_profile(feature: &slipway_core::monitor::psi::FeatureBaseline) -> Reference {
        use slipway_core::monitor::psi::FeatureBaseline;
        match feature {
            FeatureBaseline::Numeric(b) => Reference::Numeric(b.clone()),
            FeatureBaseline::Categorical(b) => Reference::Categorical(b.clone()),
        }
    }

    /// This reference as a profile's feature.
    pub fn to_profile(&self) -> slipway_core::monitor::psi::FeatureBaseline {
        use slipway_core::monitor::psi::FeatureBaseline;
        match self {
            Reference::Numeric(b) => FeatureBaseline::Numeric(b.clone()),
            Reference::Categorical(b) => FeatureBaseline::Categorical(b.clone()),
        }
    }

    /// An empty window over these bins.
    pub fn window(&self) -> Window {
        match self {
            Reference::Numeric(b) => Window::Numeric(b.window()),
            Reference::Categorical(b) => Window::Categorical(b.window()),
        }
    }

    /// `numeric` or `categorical`.
    pub fn binning(&self) -> &'static str {
        match self {
            Reference::Numeric(_) => "numeric",
            Reference::Categorical(_) => "categorical",
        }
    }

    /// The PSI of a window.
    pub fn score(&self, column: &str, window: &Window) -> Result<f64, DataError> {
        let err = |e: slipway_core::monitor::psi::ScoreError| DataError::Distribution {
            column: column.to_string(),
            message: e.to_string(),
        };
        match (self, window) {
            (Reference::Numeric(b), Window::Numeric(w)) => b.score(w).map(|s| s.psi).map_err(err),
            (Reference::Categorical(b), Window::Categorical(w)) => {
                b.score(w).map(|s| s.psi).map_err(err)
            }
            _ => unreachable!("a window is made from its reference"),
        }
    }
}

impl Window {
    /// Counts one value that arrives as a number (e.g. from the prediction log); a categorical
    /// reference sees it as its decimal text.
    pub fn push_number(&mut self, value: f64) {
        match self {
            Window::Numeric(h) => h.push(value),
            Window::Categorical(h) => h.push(&value.to_string()),
        }
    }

    pub(crate) fn push(&mut self, typed: &Typed) {
        match (self, typed) {
            (Window::Numeric(h), Typed::Float(a)) => {
                if a.null_count() == 0 {
                    a.values().iter().for_each(|&v| h.push(v));
                } else {
                    a.iter().flatten().for_each(|v| h.push(v));
                }
            }
            (Window::Numeric(h), Typed::Int(a)) => {
                for v in a.iter().flatten() {
                    h.push(v as f64);
                }
            }
            (Window::Categorical(h), Typed::Str(a)) => {
                for v in a.iter() {
                    match v {
                        Some(s) => h.push(s),
                        None => h.push_missing(),
                    }
                }
            }
            (Window::Categorical(h), Typed::Bool(a)) => {
                for v in a.iter() {
                    match v {
                        Some(b) => h.push(if b { "true" } else { "false" }),
                        None => h.push_missing(),
                    }
                }
            }
            _ => {}
        }
    }
}

enum Fitting {
    Numeric(Option<NumericFit>),
    Done(Reference),
    Categorical(CategoryCounter),
}

/// Fits the reference bins of `columns` from the table at `path`: one pass for categories, a
/// few more (typically 3–4 in all) for numeric quantiles. Returns the bins and the reference's
/// row count.
pub fn fit_reference(
    path: &Path,
    columns: &[(String, ColumnType)],
    options: &PsiOptions,
) -> Result<(Vec<Reference>, u64), DataError> {
    let mut states: Vec<Fitting> = columns
        .iter()
        .map(|(name, ty)| {
            Ok(if ty.is_numeric() {
                Fitting::Numeric(Some(NumericFit::new(options.bins).map_err(|e| {
                    DataError::Distribution {
                        column: name.clone(),
                        message: e.to_string(),
                    }
                })?))
            } else {
                Fitting::Categorical(CategoryCounter::new())
            })
        })
        .collect::<Result<_, DataError>>()?;
    let mut rows = 0;
    let mut first_pass = true;
    loop {
        let pending: Vec<usize> = (0..columns.len())
            .filter(|&i| match &states[i] {
                Fitting::Numeric(_) => true,
                Fitting::Categorical(_) => first_pass,
                Fitting::Done(_) => false,
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        let names: Vec<String> = pending.iter().map(|&i| columns[i].0.clone()).collect();
        let mut reader = TableReader::open(path, &names)?;
        while let Some((_, arrays)) = reader.next_batch()? {
            for (k, &i) in pending.iter().enumerate() {
                let (name, ty) = &columns[i];
                let converted =
                    convert(&arrays[k], *ty).map_err(|message| DataError::Distribution {
                        column: name.clone(),
                        message: format!("reference {}: {message}", path.display()),
                    })?;
                feed(&mut states[i], &converted.typed);
            }
        }
        if first_pass {
            rows = reader.rows_read();
        }
        for &i in &pending {
            let name = &columns[i].0;
            let state = std::mem::replace(&mut states[i], Fitting::Numeric(None));
            states[i] = match state {
                Fitting::Numeric(Some(fit)) => match fit.finish_pass() {
                    Ok(FitStep::AnotherPass(next)) => Fitting::Numeric(Some(next)),
                    Ok(FitStep::Done(b)) => Fitting::Done(Reference::Numeric(b)),
                    Err(e) => {
                        return Err(DataError::Distribution {
                            column: name.clone(),
                            message: format!("reference {}: {e}", path.display()),
                        });
                    }
                },
                Fitting::Categorical(counter) => {
                    if counter.counts().is_empty() {
                        return Err(DataError::Distribution {
                            column: name.clone(),
                            message: format!("reference {} has no values", path.display()),
                        });
                    }
                    Fitting::Done(Reference::Categorical(
                        counter.finish(options.max_categories),
                    ))
                }
                other => other,
            };
        }
        first_pass = false;
    }
    let refs = states
        .into_iter()
        .map(|s| match s {
            Fitting::Done(r) => r,
            _ => unreachable!("every column is fitted when no pass is pending"),
        })
        .collect();
    Ok((refs, rows))
}

fn feed(state: &mut Fitting, typed: &Typed) {
    match (state, typed) {
        (Fitting::Numeric(Some(fit)), Typed::Float(a)) => {
            if a.null_count() == 0 {
                fit.push_slice(a.values());
            } else {
                for v in a.iter().flatten() {
                    fit.push(v);
                }
            }
        }
        (Fitting::Numeric(Some(fit)), Typed::Int(a)) => {
            for v in a.iter().flatten() {
                fit.push(v as f64);
            }
        }
        (Fitting::Categorical(c), Typed::Str(a)) => {
            for v in a.iter() {
                match v {
                    Some(s) => c.push(s),
                    None => c.push_missing(),
                }
            }
        }
        (Fitting::Categorical(c), Typed::Bool(a)) => {
            for v in a.iter() {
                match v {
                    Some(b) => c.push(if b { "true" } else { "false" }),
                    None => c.push_missing(),
                }
            }
        }
        _ => {}
    }
}

/// The baseline profile of `columns` from a file: each column's type (numeric or categorical,
/// as [`psi_between`] infers it) and its frozen bins, ready to score windows from any source.
pub fn fit_baseline(
    path: &Path,
    columns: &[String],
    options: &PsiOptions,
) -> Result<Vec<(String, Reference)>, DataError> {
    let typed = infer_types(path, columns)?;
    let (references, _) = fit_reference(path, &typed, options)?;
    Ok(typed
        .into_iter()
        .map(|(name, _)| name)
        .zip(references)
        .collect())
}

/// One feature's drift between a baseline file and a current file.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureDrift {
    /// The column.
    pub name: String,
    /// `numeric` or `categorical`.
    pub binning: &'static str,
    /// The population stability index.
    pub psi: f64,
}

/// The type a column is scored as: numeric when the file stores numbers, or when every value
/// of its first batch parses as a number (CSV); categorical otherwise.
fn infer_types(path: &Path, columns: &[String]) -> Result<Vec<(String, ColumnType)>, DataError> {
    let mut reader = TableReader::open(path, columns)?;
    let Some((_, arrays)) = reader.next_batch()? else {
        return Err(DataError::Distribution {
            column: columns.first().cloned().unwrap_or_default(),
            message: format!("{} has no rows", path.display()),
        });
    };
    Ok(columns
        .iter()
        .zip(arrays.iter())
        .map(|(name, array)| {
            let numeric_storage = array.data_type().is_numeric();
            let parses = matches!(array.data_type(), arrow::datatypes::DataType::Utf8)
                && convert(array, ColumnType::Float).is_ok_and(|c| c.bad.is_empty());
            let ty = if numeric_storage || parses {
                ColumnType::Float
            } else {
                ColumnType::String
            };
            (name.clone(), ty)
        })
        .collect())
}

/// The columns `options` selects (default: every column of the baseline), typed as the
/// baseline stores them.
fn selected_columns(
    baseline: &Path,
    options: &PsiOptions,
) -> Result<Vec<(String, ColumnType)>, DataError> {
    let names = match &options.columns {
        Some(columns) => columns.clone(),
        None => crate::table::column_names(baseline)?,
    };
    infer_types(baseline, &names)
}

/// PSI of every column (or the named ones) of `current` against `baseline`, streamed: the
/// baseline's bins are fitted in a few bounded-memory passes, the current file is read once.
pub fn psi_between(
    baseline: &Path,
    current: &Path,
    options: &PsiOptions,
) -> Result<Vec<FeatureDrift>, DataError> {
    let columns = selected_columns(baseline, options)?;
    // Columns are independent: each thread reads its own projection of both files (Parquet
    // decodes only those columns), so decoding and binning both spread over the cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(columns.len())
        .max(1);
    let per = columns.len().div_ceil(threads);
    let results: Vec<Result<Vec<FeatureDrift>, DataError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = columns
            .chunks(per.max(1))
            .map(|group| scope.spawn(move || psi_of_group(baseline, current, group, options)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a PSI worker thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(columns.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// [`psi_between`] for one group of columns, on the calling thread.
fn psi_of_group(
    baseline: &Path,
    current: &Path,
    columns: &[(String, ColumnType)],
    options: &PsiOptions,
) -> Result<Vec<FeatureDrift>, DataError> {
    let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
    let (references, _) = fit_reference(baseline, columns, options)?;
    let mut windows: Vec<Window> = references.iter().map(Reference::window).collect();
    let mut reader = TableReader::open(current, &names)?;
    while let Some((_, arrays)) = reader.next_batch()? {
        for (i, (name, ty)) in columns.iter().enumerate() {
            let converted =
                convert(&arrays[i], *ty).map_err(|message| DataError::Distribution {
                    column: name.clone(),
                    message: format!("{}: {message}", current.display()),
                })?;
            windows[i].push(&converted.typed);
        }
    }
    columns
        .iter()
        .zip(references.iter().zip(windows.iter()))
        .map(|((name, _), (reference, window))| {
            Ok(FeatureDrift {
                name: name.clone(),
                binning: reference.binning(),
                psi: reference.score(name, window)?,
            })
        })
        .collect()
}

/// A value read from a table for Evidently's binning: a number or a category.
enum Cell<'a> {
    Number(f64),
    Category(&'a str),
}

/// Streams the values of `columns` (typed as `types`) of the table at `path` to `f`.
fn for_each_cell(
    path: &Path,
    columns: &[(String, ColumnType)],
    mut f: impl FnMut(usize, Cell<'_>),
) -> Result<(), DataError> {
    let names: Vec<String> = columns.iter().map(|c| c.0.clone()).collect();
    let mut reader = TableReader::open(path, &names)?;
    while let Some((_, arrays)) = reader.next_batch()? {
        for (i, (name, ty)) in columns.iter().enumerate() {
            let converted =
                convert(&arrays[i], *ty).map_err(|message| DataError::Distribution {
                    column: name.clone(),
                    message: format!("{}: {message}", path.display()),
                })?;
            match &converted.typed {
                Typed::Float(a) => a.iter().flatten().for_each(|v| f(i, Cell::Number(v))),
                Typed::Int(a) => a
                    .iter()
                    .flatten()
                    .for_each(|v| f(i, Cell::Number(v as f64))),
                Typed::Str(a) => a.iter().flatten().for_each(|v| f(i, Cell::Category(v))),
                Typed::Bool(a) => a
                    .iter()
                    .flatten()
                    .for_each(|v| f(i, Cell::Category(if v { "true" } else { "false" }))),
            }
        }
    }
    Ok(())
}

/// PSI per column with Evidently's binning (its `psi` drift method): numeric columns in
/// equal-width Sturges bins over both samples (a few distinct values: one bin per value),
/// categorical ones one bin per category of either sample, empty shares replaced as Evidently
/// does. Two streaming passes over each file; memory does not grow with the rows.
pub fn psi_between_evidently(
    baseline: &Path,
    current: &Path,
    options: &PsiOptions,
) -> Result<Vec<FeatureDrift>, DataError> {
    use slipway_core::monitor::psi::evidently::{EvidentlyScan, evidently_psi_categorical};
    use std::collections::BTreeMap;
    let columns = selected_columns(baseline, options)?;
    let err = |name: &str, e: slipway_core::monitor::psi::evidently::EvidentlyError| {
        DataError::Distribution {
            column: name.to_string(),
            message: e.to_string(),
        }
    };
    let mut scans: Vec<EvidentlyScan> = columns.iter().map(|_| EvidentlyScan::new()).collect();
    let mut categories: Vec<(BTreeMap<String, u64>, BTreeMap<String, u64>)> =
        columns.iter().map(|_| Default::default()).collect();
    for (path, reference) in [(baseline, true), (current, false)] {
        for_each_cell(path, &columns, |i, cell| match cell {
            Cell::Number(v) if reference => scans[i].push_reference(v),
            Cell::Number(v) => scans[i].push_current(v),
            Cell::Category(c) => {
                let map = if reference {
                    &mut categories[i].0
                } else {
                    &mut categories[i].1
                };
                match map.get_mut(c) {
                    Some(n) => *n += 1,
                    None => {
                        map.insert(c.to_string(), 1);
                    }
                }
            }
        })?;
    }
    let mut counters = Vec::with_capacity(columns.len());
    for ((name, ty), scan) in columns.iter().zip(scans) {
        counters.push(if ty.is_numeric() {
            Some(scan.finish().map_err(|e| err(name, e))?)
        } else {
            None
        });
    }
    for (path, reference) in [(baseline, true), (current, false)] {
        for_each_cell(path, &columns, |i, cell| {
            if let (Some(counter), Cell::Number(v)) = (&mut counters[i], cell) {
                if reference {
                    counter.push_reference(v);
                } else {
                    counter.push_current(v);
                }
            }
        })?;
    }
    columns
        .iter()
        .zip(counters.into_iter().zip(categories))
        .map(|((name, ty), (counter, (r, c)))| {
            let psi = match counter {
                Some(counter) => counter.finish().map_err(|e| err(name, e))?.psi,
                None => {
                    evidently_psi_categorical(&r, &c)
                        .map_err(|e| err(name, e))?
                        .psi
                }
            };
            Ok(FeatureDrift {
                name: name.clone(),
                binning: if ty.is_numeric() {
                    "numeric"
                } else {
                    "categorical"
                },
                psi,
            })
        })
        .collect()
}
