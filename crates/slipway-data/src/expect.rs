//! Per-column state of the one-pass check: statistics and the offenders of each expectation,
//! updated batch by batch, then turned into results.

use crate::report::{ColumnStats, ExpectationResult, Offender};
use crate::schema::{ColumnSpec, ColumnType};
use crate::typed::{Converted, Typed};
use arrow::array::Array;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

/// Offending rows kept per expectation.
pub(crate) const MAX_SAMPLES: usize = 5;

#[derive(Default)]
struct Samples {
    count: u64,
    rows: Vec<Offender>,
}

impl Samples {
    fn add(&mut self, row: u64, value: impl FnOnce() -> String) {
        self.count += 1;
        if self.rows.len() < MAX_SAMPLES {
            self.rows.push(Offender {
                row,
                value: value(),
            });
        }
    }
}

enum Allowed {
    Text(HashSet<String>),
    Int(HashSet<i64>),
    Float(HashSet<u64>),
    Bool(HashSet<bool>),
}

/// Running mean and sum of squared deviations (Chan et al.'s merge of batch moments).
#[derive(Default, Clone, Copy)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn merge_batch(&mut self, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        let nb = values.len() as f64;
        let mb = values.iter().sum::<f64>() / nb;
        let m2b: f64 = values.iter().map(|x| (x - mb) * (x - mb)).sum();
        let na = self.n as f64;
        let delta = mb - self.mean;
        let n = na + nb;
        self.mean += delta * nb / n;
        self.m2 += m2b + delta * delta * na * nb / n;
        self.n += values.len() as u64;
    }

    fn std(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.m2 / self.n as f64).sqrt())
    }
}

pub(crate) struct ColumnState {
    pub spec: ColumnSpec,
    pub missing: bool,
    type_error: Option<String>,
    rows: u64,
    nulls: u64,
    nan: u64,
    min: f64,
    max: f64,
    moments: Moments,
    finite_buf: Vec<f64>,
    bad_type: Samples,
    null_rows: Samples,
    below: Samples,
    above: Samples,
    not_allowed: Samples,
    no_match: Samples,
    dups: Samples,
    allowed: Option<Allowed>,
    regex: Option<regex::Regex>,
    seen: Option<HashMap<u64, u64>>,
    hasher: RandomState,
}

impl ColumnState {
    pub fn new(spec: &ColumnSpec, missing: bool) -> Result<ColumnState, String> {
        let allowed = match &spec.allowed {
            None => None,
            Some(values) => Some(allowed_set(spec, values)?),
        };
        let regex = spec
            .regex
            .as_ref()
            .map(|r| regex::Regex::new(&format!("^(?:{r})$")))
            .transpose()
            .map_err(|e| format!("column `{}`: regex: {e}", spec.name))?;
        Ok(ColumnState {
            spec: spec.clone(),
            missing,
            type_error: None,
            rows: 0,
            nulls: 0,
            nan: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            moments: Moments::default(),
            finite_buf: Vec::new(),
            bad_type: Samples::default(),
            null_rows: Samples::default(),
            below: Samples::default(),
            above: Samples::default(),
            not_allowed: Samples::default(),
            no_match: Samples::default(),
            dups: Samples::default(),
            allowed,
            regex,
            seen: spec.unique.then(HashMap::new),
            hasher: RandomState::new(),
        })
    }

    /// Records that the stored type cannot hold the declared one.
    pub fn set_type_error(&mut self, message: String) {
        if self.type_error.is_none() {
            self.type_error = Some(message);
        }
    }

    pub fn has_type_error(&self) -> bool {
        self.type_error.is_some()
    }

    /// Takes one converted batch whose first row is `first` (1-based).
    pub fn update(&mut self, first: u64, batch: &Converted) {
        for (i, text) in &batch.bad {
            self.bad_type.add(first + *i as u64, || text.clone());
        }
        let bad: Vec<usize> = batch.bad.iter().map(|(i, _)| *i).collect();
        match &batch.typed {
            Typed::Float(a) => {
                self.count_nulls(first, a, &bad);
                self.update_float(first, a)
            }
            Typed::Int(a) => {
                self.count_nulls(first, a, &bad);
                self.update_int(first, a)
            }
            Typed::Bool(a) => {
                self.count_nulls(first, a, &bad);
                self.update_bool(first, a)
            }
            Typed::Str(a) => {
                self.count_nulls(first, a, &bad);
                self.update_str(first, a)
            }
        }
    }

    /// Counts nulls; `bad` (sorted batch indices) are values that did not parse, which are nulls
    /// in the typed array but are reported as type failures, not as nulls.
    fn count_nulls(&mut self, first: u64, array: &dyn Array, bad: &[usize]) {
        self.rows += array.len() as u64;
        let nulls = array.null_count() as u64;
        self.nulls += nulls - bad.len() as u64;
        if !self.spec.nullable && nulls > bad.len() as u64 {
            for i in 0..array.len() {
                if array.is_null(i) && bad.binary_search(&i).is_err() {
                    self.null_rows.add(first + i as u64, || "null".into());
                }
            }
        }
    }

    /// Records `x` as an offender of `min` and/or `max`; NaN breaks both.
    fn check_number(&mut self, row: u64, x: f64) {
        if let Some(lo) = self.spec.min
            && (x.is_nan() || x < lo)
        {
            self.below.add(row, || x.to_string());
        }
        if let Some(hi) = self.spec.max
            && (x.is_nan() || x > hi)
        {
            self.above.add(row, || x.to_string());
        }
    }

    fn update_float(&mut self, first: u64, a: &arrow::array::Float64Array) {
        let values = a.values();
        let mut buf = std::mem::take(&mut self.finite_buf);
        buf.clear();
        let check_range = self.spec.min.is_some() || self.spec.max.is_some();
        let (lo, hi) = (
            self.spec.min.unwrap_or(f64::NEG_INFINITY),
            self.spec.max.unwrap_or(f64::INFINITY),
        );
        let all_valid = a.null_count() == 0;
        for (i, &x) in values.iter().enumerate() {
            if !all_valid && a.is_null(i) {
                continue;
            }
            if x.is_nan() {
                self.nan += 1;
            } else {
                self.min = self.min.min(x);
                self.max = self.max.max(x);
                if x.is_finite() {
                    buf.push(x);
                }
            }
            if check_range && (x.is_nan() || x < lo || x > hi) {
                self.check_number(first + i as u64, x);
            }
            if let Some(allowed) = &self.allowed {
                let ok = match allowed {
                    Allowed::Float(set) => set.contains(&(x + 0.0).to_bits()),
                    _ => false,
                };
                if !ok {
                    self.not_allowed.add(first + i as u64, || x.to_string());
                }
            }
            if let Some(seen) = &mut self.seen
                && let Some(prev) = seen.insert((x + 0.0).to_bits(), first + i as u64)
            {
                self.dups
                    .add(first + i as u64, || format!("{x} (also row {prev})"));
            }
        }
        self.moments.merge_batch(&buf);
        self.finite_buf = buf;
    }

    fn update_int(&mut self, first: u64, a: &arrow::array::Int64Array) {
        let mut buf = std::mem::take(&mut self.finite_buf);
        buf.clear();
        let all_valid = a.null_count() == 0;
        for (i, &v) in a.values().iter().enumerate() {
            if !all_valid && a.is_null(i) {
                continue;
            }
            let x = v as f64;
            self.min = self.min.min(x);
            self.max = self.max.max(x);
            buf.push(x);
            self.check_number(first + i as u64, x);
            if let Some(allowed) = &self.allowed {
                let ok = matches!(allowed, Allowed::Int(set) if set.contains(&v));
                if !ok {
                    self.not_allowed.add(first + i as u64, || v.to_string());
                }
            }
            if let Some(seen) = &mut self.seen
                && let Some(prev) = seen.insert(v as u64, first + i as u64)
            {
                self.dups
                    .add(first + i as u64, || format!("{v} (also row {prev})"));
            }
        }
        self.moments.merge_batch(&buf);
        self.finite_buf = buf;
    }

    fn update_bool(&mut self, first: u64, a: &arrow::array::BooleanArray) {
        for (i, v) in a.iter().enumerate() {
            let Some(v) = v else { continue };
            if let Some(allowed) = &self.allowed {
                let ok = matches!(allowed, Allowed::Bool(set) if set.contains(&v));
                if !ok {
                    self.not_allowed.add(first + i as u64, || v.to_string());
                }
            }
            if let Some(seen) = &mut self.seen
                && let Some(prev) = seen.insert(u64::from(v), first + i as u64)
            {
                self.dups
                    .add(first + i as u64, || format!("{v} (also row {prev})"));
            }
        }
    }

    fn update_str(&mut self, first: u64, a: &arrow::array::StringArray) {
        for (i, v) in a.iter().enumerate() {
            let Some(v) = v else { continue };
            let row = first + i as u64;
            if let Some(Allowed::Text(set)) = &self.allowed
                && !set.contains(v)
            {
                self.not_allowed.add(row, || v.to_string());
            }
            if let Some(re) = &self.regex
                && !re.is_match(v)
            {
                self.no_match.add(row, || v.to_string());
            }
            if let Some(seen) = &mut self.seen
                && let Some(prev) = seen.insert(self.hasher.hash_one(v), row)
            {
                self.dups.add(row, || format!("{v} (also row {prev})"));
            }
        }
    }

    /// The column's statistics.
    pub fn stats(&self) -> ColumnStats {
        let numeric = self.spec.ty.is_numeric() && self.moments.n > 0;
        ColumnStats {
            name: self.spec.name.clone(),
            ty: self.spec.ty.as_str().to_string(),
            rows: self.rows,
            nulls: self.nulls,
            null_fraction: fraction(self.nulls, self.rows),
            invalid: self.bad_type.count,
            nan: self.nan,
            min: numeric.then_some(self.min),
            max: numeric.then_some(self.max),
            mean: numeric.then_some(self.moments.mean),
            std: if numeric { self.moments.std() } else { None },
            distinct: self.seen.as_ref().map(|s| s.len() as u64),
        }
    }

    /// The results of every expectation of the column.
    pub fn results(self) -> Vec<ExpectationResult> {
        let spec = &self.spec;
        let mut out = Vec::new();
        let mut push = |expectation: &str,
                        passed: bool,
                        expected: String,
                        observed: String,
                        s: Option<Samples>| {
            let (offending_count, offending) = s.map(|s| (s.count, s.rows)).unwrap_or_default();
            out.push(ExpectationResult {
                column: spec.name.clone(),
                expectation: expectation.to_string(),
                level: spec.level(expectation),
                passed,
                expected,
                observed,
                offending_count,
                offending,
            });
        };
        if self.missing {
            push(
                "type",
                false,
                format!("a column `{}` of type {}", spec.name, spec.ty.as_str()),
                "the column is not in the table".into(),
                None,
            );
            return out;
        }
        if let Some(message) = &self.type_error {
            push(
                "type",
                false,
                spec.ty.as_str().to_string(),
                message.clone(),
                None,
            );
            return out;
        }
        let stats = self.stats();
        let bad = self.bad_type.count;
        push(
            "type",
            bad == 0,
            format!("every value is {}", spec.ty.as_str()),
            if bad == 0 {
                "all values parse".into()
            } else {
                format!("{bad} value(s) are not {}", spec.ty.as_str())
            },
            Some(self.bad_type),
        );
        if !spec.nullable {
            push(
                "nullable",
                self.nulls == 0,
                "no nulls".into(),
                format!("{} null(s)", self.nulls),
                Some(self.null_rows),
            );
        }
        if let Some(limit) = spec.max_null_fraction {
            push(
                "max_null_fraction",
                stats.null_fraction <= limit,
                format!("null fraction <= {limit}"),
                format!(
                    "{:.6} ({} of {} rows)",
                    stats.null_fraction, self.nulls, self.rows
                ),
                None,
            );
        }
        if let Some(lo) = spec.min {
            push(
                "min",
                self.below.count == 0,
                format!("every value >= {lo}"),
                match stats.min {
                    Some(m) if self.below.count > 0 => {
                        format!("min {m}; {} value(s) below", self.below.count)
                    }
                    Some(m) => format!("min {m}"),
                    None => "no values".into(),
                },
                Some(self.below),
            );
        }
        if let Some(hi) = spec.max {
            push(
                "max",
                self.above.count == 0,
                format!("every value <= {hi}"),
                match stats.max {
                    Some(m) if self.above.count > 0 => {
                        format!("max {m}; {} value(s) above", self.above.count)
                    }
                    Some(m) => format!("max {m}"),
                    None => "no values".into(),
                },
                Some(self.above),
            );
        }
        if let Some(range) = spec.mean {
            let ok = stats.mean.is_some_and(|m| range.contains(m));
            push(
                "mean",
                ok,
                format!("mean in {}", range.describe()),
                stats
                    .mean
                    .map_or("no values".into(), |m| format!("mean {m}")),
                None,
            );
        }
        if let Some(range) = spec.std {
            let ok = stats.std.is_some_and(|s| range.contains(s));
            push(
                "std",
                ok,
                format!("standard deviation in {}", range.describe()),
                stats.std.map_or("no values".into(), |s| format!("std {s}")),
                None,
            );
        }
        if let Some(values) = &spec.allowed {
            let list: Vec<String> = values.iter().map(plain).collect();
            push(
                "allowed",
                self.not_allowed.count == 0,
                format!("one of: {}", list.join(", ")),
                format!("{} value(s) not allowed", self.not_allowed.count),
                Some(self.not_allowed),
            );
        }
        if spec.unique {
            push(
                "unique",
                self.dups.count == 0,
                "no value twice".into(),
                format!("{} repeated value(s)", self.dups.count),
                Some(self.dups),
            );
        }
        if let Some(re) = &spec.regex {
            push(
                "regex",
                self.no_match.count == 0,
                format!("every value matches `{re}` entirely"),
                format!("{} value(s) do not match", self.no_match.count),
                Some(self.no_match),
            );
        }
        out
    }
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A scalar as people write it (strings without quotes).
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn allowed_set(spec: &ColumnSpec, values: &[serde_json::Value]) -> Result<Allowed, String> {
    let bad = |v: &serde_json::Value| {
        format!(
            "column `{}`: allowed value {v} is not a {}",
            spec.name,
            spec.ty.as_str()
        )
    };
    Ok(match spec.ty {
        ColumnType::String => Allowed::Text(values.iter().map(plain).collect()),
        ColumnType::Int => Allowed::Int(
            values
                .iter()
                .map(|v| v.as_i64().ok_or_else(|| bad(v)))
                .collect::<Result<_, _>>()?,
        ),
        ColumnType::Float => Allowed::Float(
            values
                .iter()
                .map(|v| {
                    v.as_f64()
                        .map(|x| (x + 0.0).to_bits())
                        .ok_or_else(|| bad(v))
                })
                .collect::<Result<_, _>>()?,
        ),
        ColumnType::Bool => Allowed::Bool(
            values
                .iter()
                .map(|v| v.as_bool().ok_or_else(|| bad(v)))
                .collect::<Result<_, _>>()?,
        ),
    })
}
