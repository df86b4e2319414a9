//! Slipway's data layer: streaming CSV and Parquet readers with bounded memory ([`table`]), a
//! schema with expectations per column ([`schema`]), the engine that checks them in one pass
//! ([`validate`]), the distribution test against a reference dataset with the monitoring PSI
//! ([`distribution`]), the validation report ([`report`]), dense loading of feature columns for
//! training and evaluation ([`frame`]), and the `slipway/validate` built-in ([`builtin`]).
//!
//! *Memory:* a table is read in batches of [`table::BATCH_ROWS`] rows; state kept across
//! batches is per column and independent of the row count, except for `unique` (a 64-bit hash
//! per distinct value) and the allowed-values sets.
#![deny(missing_docs)]

pub mod builtin;
pub mod distribution;
mod expect;
pub mod frame;
pub mod report;
pub mod schema;
pub mod table;
mod typed;
pub mod validate;

pub use builtin::ValidateBuiltin;
pub use frame::{Frame, load_frame};
pub use report::ValidationReport;
pub use schema::{ColumnType, Schema};
pub use table::{TableFormat, TableReader};

use std::path::PathBuf;

/// Why data could not be read or checked (a failed expectation is not an error: it is in the
/// report).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CSV or Parquet decoder failed.
    #[error("{}: {message}", .path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        message: String,
    },
    /// The schema file is not valid.
    #[error("schema {}: {message}", .path.display())]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong (with line and column when the parser knows them) and what is valid.
        message: String,
    },
    /// A column that is needed is not in the table.
    #[error("{}: no column `{column}`; columns are: {available}", .path.display())]
    MissingColumn {
        /// The table.
        path: PathBuf,
        /// The column.
        column: String,
        /// The table's columns, comma-separated.
        available: String,
    },
    /// A value cannot be used as asked (names file, row, column and the value).
    #[error("{}: row {row}, column `{column}`: {message}", .path.display())]
    Value {
        /// The table.
        path: PathBuf,
        /// 1-based data row.
        row: u64,
        /// The column.
        column: String,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// The distribution test cannot be computed.
    #[error("distribution test on column `{column}`: {message}")]
    Distribution {
        /// The column.
        column: String,
        /// Why.
        message: String,
    },
}
