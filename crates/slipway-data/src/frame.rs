//! Dense loading of a few columns for training and evaluation: numeric columns as `f64`
//! (nulls become NaN; booleans 0/1), text columns as strings. Memory is the size of the
//! columns asked for.

use crate::DataError;
use crate::table::TableReader;
use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use std::path::Path;

/// Columns loaded in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    /// Rows.
    pub rows: usize,
    /// Numeric columns, in the order asked.
    pub numeric: Vec<(String, Vec<f64>)>,
    /// Text columns, in the order asked (nulls are empty strings).
    pub text: Vec<(String, Vec<String>)>,
}

impl Frame {
    /// A numeric column.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.numeric
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A text column.
    pub fn text_column(&self, name: &str) -> Option<&[String]> {
        self.text
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The named numeric columns as a row-major matrix (`rows × names.len()`).
    pub fn row_major(&self, names: &[String]) -> Vec<f64> {
        let cols: Vec<&[f64]> = names
            .iter()
            .map(|n| self.column(n).expect("column loaded"))
            .collect();
        let mut out = Vec::with_capacity(self.rows * cols.len());
        for r in 0..self.rows {
            for c in &cols {
                out.push(c[r]);
            }
        }
        out
    }
}

/// Loads `numeric` and `text` columns of a CSV or Parquet table.
pub fn load_frame(path: &Path, numeric: &[String], text: &[String]) -> Result<Frame, DataError> {
    let mut all: Vec<String> = numeric.to_vec();
    for t in text {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    let mut reader = TableReader::open(path, &all)?;
    let mut frame = Frame {
        rows: 0,
        numeric: numeric.iter().map(|n| (n.clone(), Vec::new())).collect(),
        text: text.iter().map(|n| (n.clone(), Vec::new())).collect(),
    };
    while let Some((first, arrays)) = reader.next_batch()? {
        for (k, (name, out)) in frame.numeric.iter_mut().enumerate() {
            append_numeric(path, name, first, &arrays[k], out)?;
        }
        for (name, out) in frame.text.iter_mut() {
            let k = all.iter().position(|a| a == name).expect("asked for");
            let utf8 = arrow::compute::cast(&arrays[k], &DataType::Utf8).map_err(|e| {
                DataError::Decode {
                    path: path.to_path_buf(),
                    message: format!("column `{name}` cannot be read as text: {e}"),
                }
            })?;
            out.extend(
                utf8.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or("").to_string()),
            );
        }
    }
    frame.rows = reader.rows_read() as usize;
    Ok(frame)
}

fn append_numeric(
    path: &Path,
    name: &str,
    first: u64,
    array: &arrow::array::ArrayRef,
    out: &mut Vec<f64>,
) -> Result<(), DataError> {
    match array.data_type() {
        DataType::Utf8 => {
            for (i, v) in array.as_string::<i32>().iter().enumerate() {
                match v.map(str::trim) {
                    None | Some("") => out.push(f64::NAN),
                    Some("true") => out.push(1.0),
                    Some("false") => out.push(0.0),
                    Some(s) => out.push(s.parse::<f64>().map_err(|_| DataError::Value {
                        path: path.to_path_buf(),
                        row: first + i as u64,
                        column: name.to_string(),
                        message: format!("`{s}` is not a number"),
                    })?),
                }
            }
        }
        DataType::Boolean => {
            out.extend(
                array
                    .as_boolean()
                    .iter()
                    .map(|v| v.map_or(f64::NAN, |b| f64::from(u8::from(b)))),
            );
        }
        dt if dt.is_numeric() => {
            let cast =
                arrow::compute::cast(array, &DataType::Float64).map_err(|e| DataError::Decode {
                    path: path.to_path_buf(),
                    message: format!("column `{name}`: {e}"),
                })?;
            let a = cast.as_primitive::<arrow::datatypes::Float64Type>();
            if a.null_count() == 0 {
                out.extend_from_slice(a.values());
            } else {
                out.extend(a.iter().map(|v| v.unwrap_or(f64::NAN)));
            }
        }
        other => {
            return Err(DataError::Decode {
                path: path.to_path_buf(),
                message: format!("column `{name}` is stored as {other}, not a number"),
            });
        }
    }
    Ok(())
}
