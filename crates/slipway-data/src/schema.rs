//! The schema file of `slipway/validate`: columns with their types and expectations.
//!
//! ```yaml
//! rows: {min: 1000, max: 10000000}     # row-count range
//! extra_columns: warn                  # columns not listed: error | warn | ignore
//! columns:
//!   - name: age
//!     type: int                        # float | int | bool | string
//!     nullable: false                  # no nulls at all
//!     min: 18
//!     max: 120
//!     mean: {min: 30, max: 50}
//!     std: {max: 20}
//!   - name: email
//!     type: string
//!     max_null_fraction: 0.01
//!     unique: true
//!     regex: '[^@]+@[^@]+'             # the whole value must match
//!   - name: country
//!     type: string
//!     allowed: [FR, DE, IT]
//!     warn: [allowed]                  # these expectations only warn
//! ```

use crate::DataError;
use std::path::Path;

/// A column's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Floating-point numbers (integers are accepted).
    #[serde(alias = "double", alias = "float64")]
    Float,
    /// Integers.
    #[serde(alias = "integer", alias = "int64")]
    Int,
    /// `true`/`false` (CSV also accepts `1`/`0`).
    #[serde(alias = "boolean")]
    Bool,
    /// Text.
    #[serde(alias = "str", alias = "text", alias = "utf8")]
    String,
}

impl ColumnType {
    /// `float`, `int`, `bool` or `string`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Float => "float",
            ColumnType::Int => "int",
            ColumnType::Bool => "bool",
            ColumnType::String => "string",
        }
    }

    /// Numeric types have min/max/mean/std.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Float | ColumnType::Int)
    }
}

/// What to do with columns the schema does not list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtraColumns {
    /// Fail.
    Error,
    /// Record a warning.
    #[default]
    Warn,
    /// Say nothing.
    Ignore,
}

/// An inclusive range; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lowest valid value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest valid value.
    #[serde(default)]
    pub max: Option<f64>,
}

impl Range {
    /// Whether `x` is inside.
    pub fn contains(&self, x: f64) -> bool {
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }

    /// `[min, max]` for people.
    pub fn describe(&self) -> String {
        let end = |v: Option<f64>, open: &str| v.map(|x| x.to_string()).unwrap_or(open.into());
        format!("[{}, {}]", end(self.min, "-inf"), end(self.max, "+inf"))
    }
}

/// One column's declaration.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's name in the table.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether nulls (empty CSV fields) are allowed (default true).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Highest share of nulls allowed (0 to 1).
    #[serde(default)]
    pub max_null_fraction: Option<f64>,
    /// Lowest valid value (numeric columns).
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest valid value (numeric columns).
    #[serde(default)]
    pub max: Option<f64>,
    /// Range of the column's mean (numeric columns).
    #[serde(default)]
    pub mean: Option<Range>,
    /// Range of the column's standard deviation (numeric columns; population).
    #[serde(default)]
    pub std: Option<Range>,
    /// The only values allowed (compared as the column's type).
    #[serde(default)]
    pub allowed: Option<Vec<serde_json::Value>>,
    /// No value may appear twice (nulls excepted).
    #[serde(default)]
    pub unique: bool,
    /// A regular expression every value must match entirely (string columns).
    #[serde(default)]
    pub regex: Option<String>,
    /// Expectations that only warn: names among `type`, `nullable`, `max_null_fraction`,
    /// `min`, `max`, `mean`, `std`, `allowed`, `unique`, `regex`.
    #[serde(default)]
    pub warn: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The names of the expectations a column can have.
pub const EXPECTATIONS: &[&str] = &[
    "type",
    "nullable",
    "max_null_fraction",
    "min",
    "max",
    "mean",
    "std",
    "allowed",
    "unique",
    "regex",
];

/// A validated schema.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Row-count range.
    #[serde(default)]
    pub rows: Option<RowRange>,
    /// Columns not listed.
    #[serde(default)]
    pub extra_columns: ExtraColumns,
    /// The columns.
    pub columns: Vec<ColumnSpec>,
}

/// The row-count expectation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowRange {
    /// Fewest rows.
    #[serde(default)]
    pub min: Option<u64>,
    /// Most rows.
    #[serde(default)]
    pub max: Option<u64>,
    /// `error` (default) or `warn`.
    #[serde(default)]
    pub level: slipway_core::reports::Level,
}

impl Schema {
    /// Reads a schema file.
    pub fn load(path: &Path) -> Result<Schema, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Schema::parse(&text).map_err(|message| DataError::Schema {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses schema YAML and checks it; the message names the column and field at fault.
    pub fn parse(text: &str) -> Result<Schema, String> {
        let schema: Schema = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), String> {
        if self.columns.is_empty() {
            return Err("`columns` is empty; list at least one column".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.columns {
            let at = |msg: String| Err(format!("column `{}`: {msg}", c.name));
            if !seen.insert(c.name.as_str()) {
                return at("listed twice".into());
            }
            if !c.ty.is_numeric()
                && (c.min.is_some() || c.max.is_some() || c.mean.is_some() || c.std.is_some())
            {
                return at(format!(
                    "min, max, mean and std apply to float and int columns, not {}",
                    c.ty.as_str()
                ));
            }
            if c.regex.is_some() && c.ty != ColumnType::String {
                return at(format!(
                    "regex applies to string columns, not {}",
                    c.ty.as_str()
                ));
            }
            if let Some(f) = c.max_null_fraction
                && !(0.0..=1.0).contains(&f)
            {
                return at(format!("max_null_fraction {f} is not between 0 and 1"));
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                return at(format!("min {lo} is greater than max {hi}"));
            }
            if let Some(re) = &c.regex
                && let Err(e) = regex::Regex::new(re)
            {
                return at(format!("regex does not compile: {e}"));
            }
            for w in &c.warn {
                if !EXPECTATIONS.contains(&w.as_str()) {
                    return at(format!(
                        "`warn` names unknown expectation `{w}`; expectations are: {}",
                        EXPECTATIONS.join(", ")
                    ));
                }
            }
        }
        if let Some(r) = &self.rows
            && let (Some(lo), Some(hi)) = (r.min, r.max)
            && lo > hi
        {
            return Err(format!("rows: min {lo} is greater than max {hi}"));
        }
        Ok(())
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl ColumnSpec {
    /// The level of an expectation of this column.
    pub fn level(&self, expectation: &str) -> slipway_core::reports::Level {
        if self.warn.iter().any(|w| w == expectation) {
            slipway_core::reports::Level::Warn
        } else {
            slipway_core::reports::Level::Error
        }
    }

    /// How many expectations the column declares (its type included).
    pub fn expectation_count(&self) -> usize {
        1 + usize::from(!self.nullable)
            + usize::from(self.max_null_fraction.is_some())
            + usize::from(self.min.is_some())
            + usize::from(self.max.is_some())
            + self.mean.map_or(0, |r| {
                usize::from(r.min.is_some()) + usize::from(r.max.is_some())
            })
            + self.std.map_or(0, |r| {
                usize::from(r.min.is_some()) + usize::from(r.max.is_some())
            })
            + usize::from(self.allowed.is_some())
            + usize::from(self.unique)
            + usize::from(self.regex.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_schema_parses() {
        let s = Schema::parse(
            "rows: {min: 1, max: 10}\ncolumns:\n  - name: a\n    type: int\n    nullable: false\n    min: 0\n    max: 5\n    mean: {min: 1}\n    warn: [max]\n  - name: b\n    type: string\n    regex: 'x+'\n    allowed: [x, xx]\n    unique: true\n",
        )
        .unwrap();
        assert_eq!(s.columns.len(), 2);
        assert_eq!(
            s.columns[0].level("max"),
            slipway_core::reports::Level::Warn
        );
        assert_eq!(
            s.columns[0].level("min"),
            slipway_core::reports::Level::Error
        );
        assert_eq!(s.columns[0].expectation_count(), 5);
        assert_eq!(s.extra_columns, ExtraColumns::Warn);
    }

    #[test]
    fn mistakes_are_named() {
        let err = Schema::parse("columns:\n  - name: a\n    type: int\n    mn: 0\n").unwrap_err();
        assert!(err.contains("mn"), "{err}");
        let err =
            Schema::parse("columns:\n  - name: a\n    type: string\n    min: 0\n").unwrap_err();
        assert!(
            err.contains("column `a`") && err.contains("not string"),
            "{err}"
        );
        let err =
            Schema::parse("columns:\n  - name: a\n    type: string\n    regex: '('\n").unwrap_err();
        assert!(err.contains("regex does not compile"), "{err}");
        let err =
            Schema::parse("columns:\n  - name: a\n    type: int\n    warn: [mni]\n").unwrap_err();
        assert!(err.contains("unknown expectation `mni`"), "{err}");
        let err = Schema::parse("columns:\n  - name: a\n    type: decimal\n").unwrap_err();
        assert!(err.contains("decimal"), "{err}");
        assert!(Schema::parse("columns: []\n").is_err());
    }
}
