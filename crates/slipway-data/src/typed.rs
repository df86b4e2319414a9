//! Turning a column as stored (Parquet types, or CSV text) into its declared type. CSV text
//! that does not parse becomes null and is reported with its row; a Parquet column whose stored
//! type cannot hold the declared one fails the column's `type` expectation once.

use crate::schema::ColumnType;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Array, Float64Builder,
    Int64Array, Int64Builder, StringArray,
};
use arrow::datatypes::DataType;

/// A batch of one column in its declared type.
pub(crate) enum Typed {
    Float(Float64Array),
    Int(Int64Array),
    Bool(BooleanArray),
    Str(StringArray),
}

/// A converted batch and the values that did not parse (batch index, text).
pub(crate) struct Converted {
    pub typed: Typed,
    pub bad: Vec<(usize, String)>,
}

/// Converts a batch; `Err` names the stored type when it cannot hold the declared one.
pub(crate) fn convert(array: &ArrayRef, ty: ColumnType) -> Result<Converted, String> {
    let dt = array.data_type();
    if matches!(dt, DataType::Utf8) && ty != ColumnType::String {
        return Ok(parse_text(array.as_string::<i32>(), ty));
    }
    let cast =
        |to: &DataType| arrow::compute::cast(array, to).map_err(|e| format!("stored as {dt}: {e}"));
    let typed = match ty {
        ColumnType::Float => {
            if !(dt.is_numeric()) {
                return Err(format!("stored as {dt}, not a number type"));
            }
            Typed::Float(cast(&DataType::Float64)?.as_primitive().clone())
        }
        ColumnType::Int => {
            if !dt.is_integer() {
                return Err(format!("stored as {dt}, not an integer type"));
            }
            Typed::Int(cast(&DataType::Int64)?.as_primitive().clone())
        }
        ColumnType::Bool => {
            if *dt != DataType::Boolean {
                return Err(format!("stored as {dt}, not Boolean"));
            }
            Typed::Bool(array.as_boolean().clone())
        }
        ColumnType::String => match dt {
            DataType::Utf8 => Typed::Str(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                Typed::Str(cast(&DataType::Utf8)?.as_string::<i32>().clone())
            }
            other => return Err(format!("stored as {other}, not a string type")),
        },
    };
    Ok(Converted {
        typed,
        bad: Vec::new(),
    })
}

fn parse_text(text: &StringArray, ty: ColumnType) -> Converted {
    let mut bad = Vec::new();
    let typed = match ty {
        ColumnType::Float => {
            let mut b = Float64Builder::with_capacity(text.len());
            for (i, v) in text.iter().enumerate() {
                match v.map(str::trim) {
                    None | Some("") => b.append_null(),
                    Some(s) => match s.parse::<f64>() {
                        Ok(x) => b.append_value(x),
                        Err(_) => {
                            bad.push((i, s.to_string()));
                            b.append_null();
                        }
                    },
                }
            }
            Typed::Float(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int64Builder::with_capacity(text.len());
            for (i, v) in text.iter().enumerate() {
                match v.map(str::trim) {
                    None | Some("") => b.append_null(),
                    Some(s) => match s.parse::<i64>() {
                        Ok(x) => b.append_value(x),
                        Err(_) => {
                            bad.push((i, s.to_string()));
                            b.append_null();
                        }
                    },
                }
            }
            Typed::Int(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(text.len());
            for (i, v) in text.iter().enumerate() {
                match v.map(str::trim) {
                    None | Some("") => b.append_null(),
                    Some(s) => match s.to_ascii_lowercase().as_str() {
                        "true" | "1" => b.append_value(true),
                        "false" | "0" => b.append_value(false),
                        _ => {
                            bad.push((i, s.to_string()));
                            b.append_null();
                        }
                    },
                }
            }
            Typed::Bool(b.finish())
        }
        ColumnType::String => Typed::Str(text.clone()),
    };
    Converted { typed, bad }
}
