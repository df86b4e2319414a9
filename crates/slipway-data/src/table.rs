//! Streaming readers for CSV and Parquet: a table is read in batches of [`BATCH_ROWS`] rows, so
//! memory does not grow with the file. CSV columns are read as text and typed by the caller
//! (so a bad value is reported with its row rather than failing the whole file); Parquet columns
//! keep their stored types.

use crate::DataError;
use arrow::array::{ArrayRef, RecordBatch};
pub use arrow::datatypes::DataType;
use arrow::datatypes::{Field, Schema as ArrowSchema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per batch.
pub const BATCH_ROWS: usize = 65_536;

/// A table's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The format implied by the file name: `.parquet`/`.pq` is Parquet, anything else CSV.
    pub fn of_path(path: &Path) -> TableFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet" | "pq") => TableFormat::Parquet,
            _ => TableFormat::Csv,
        }
    }

    /// `csv` or `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
        }
    }
}

enum Inner {
    Csv(Box<arrow::csv::Reader<BufReader<File>>>),
    Parquet(ParquetRecordBatchReader),
}

/// Reads a table batch by batch, only the columns asked for.
pub struct TableReader {
    path: PathBuf,
    format: TableFormat,
    columns: Vec<String>,
    inner: Inner,
    rows_read: u64,
}

/// The column names of a table, in file order.
pub fn column_names(path: &Path) -> Result<Vec<String>, DataError> {
    let schema = file_schema(path)?;
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}

/// The column names and (for Parquet) stored types of a table; CSV columns are all text.
pub fn file_schema(path: &Path) -> Result<ArrowSchema, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(io)?;
    match TableFormat::of_path(path) {
        TableFormat::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| decode(e.to_string()))?;
            Ok(builder.schema().as_ref().clone())
        }
        TableFormat::Csv => {
            let mut reader = BufReader::new(file);
            let (schema, _) = arrow::csv::reader::Format::default()
                .with_header(true)
                .infer_schema(&mut reader, Some(0))
                .map_err(|e| decode(format!("cannot read the CSV header: {e}")))?;
            let mut seen = std::collections::BTreeSet::new();
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .collect();
            for f in &fields {
                if !seen.insert(f.name().clone()) {
                    return Err(decode(format!(
                        "the header names column `{}` twice; column names must be unique",
                        f.name()
                    )));
                }
            }
            Ok(ArrowSchema::new(fields))
        }
    }
}

impl TableReader {
    /// Opens `path` to read `columns` (all must exist; the error lists those that do).
    pub fn open(path: &Path, columns: &[String]) -> Result<TableReader, DataError> {
        let schema = file_schema(path)?;
        let available: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut indices = Vec::with_capacity(columns.len());
        for c in columns {
            let i =
                available
                    .iter()
                    .position(|a| a == c)
                    .ok_or_else(|| DataError::MissingColumn {
                        path: path.to_path_buf(),
                        column: c.clone(),
                        available: available.join(", "),
                    })?;
            indices.push(i);
        }
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let decode = |e: &dyn std::fmt::Display| DataError::Decode {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut file = File::open(path).map_err(io)?;
        let format = TableFormat::of_path(path);
        let inner = match format {
            TableFormat::Parquet => {
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| decode(&e))?;
                let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
                Inner::Parquet(
                    builder
                        .with_batch_size(BATCH_ROWS)
                        .with_projection(mask)
                        .build()
                        .map_err(|e| decode(&e))?,
                )
            }
            TableFormat::Csv => {
                file.rewind().map_err(io)?;
                let reader = arrow::csv::ReaderBuilder::new(Arc::new(schema))
                    .with_header(true)
                    .with_batch_size(BATCH_ROWS)
                    .with_projection(indices.clone())
                    .build(BufReader::with_capacity(1 << 20, file))
                    .map_err(|e| decode(&e))?;
                Inner::Csv(Box::new(reader))
            }
        };
        Ok(TableReader {
            path: path.to_path_buf(),
            format,
            columns: columns.to_vec(),
            inner,
            rows_read: 0,
        })
    }

    /// The file's format.
    pub fn format(&self) -> TableFormat {
        self.format
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next batch: one array per requested column (in the order asked), and the 1-based
    /// row number of its first row. `None` at the end.
    #[allow(clippy::type_complexity)]
    pub fn next_batch(&mut self) -> Result<Option<(u64, Vec<ArrayRef>)>, DataError> {
        let batch: Option<Result<RecordBatch, arrow::error::ArrowError>> = match &mut self.inner {
            Inner::Csv(r) => r.next(),
            Inner::Parquet(r) => r.next(),
        };
        let Some(batch) = batch else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| DataError::Decode {
            path: self.path.clone(),
            message: format!("after row {}: {e}", self.rows_read),
        })?;
        let first = self.rows_read + 1;
        self.rows_read += batch.num_rows() as u64;
        let arrays = self
            .columns
            .iter()
            .map(|c| {
                batch
                    .column_by_name(c)
                    .cloned()
                    .expect("projected columns are in the batch")
            })
            .collect();
        Ok(Some((first, arrays)))
    }
}
