//! One pass over a table checks every expectation of every column and counts the columns into
//! the reference's bins; the result is a [`ValidationReport`] listing every failure at once.

use crate::DataError;
use crate::distribution::{PsiOptions, Reference, Window, fit_reference};
use crate::expect::ColumnState;
use crate::report::{DistributionReport, DistributionResult, ExpectationResult, ValidationReport};
use crate::schema::{ExtraColumns, Schema};
use crate::table::{TableFormat, TableReader, file_schema};
use crate::typed::convert;
use slipway_core::Digest;
use slipway_core::reports::{DatasetRef, Level};
use std::io::Read;
use std::path::Path;

/// The digest of a file's bytes, read in 1 MiB pieces.
pub fn file_digest(path: &Path) -> Result<Digest, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest::from(hasher.finalize()))
}

/// A table to check: where it is, the name the report gives it, its digest.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// The file.
    pub path: &'a Path,
    /// The name in the report (the project-relative path).
    pub name: String,
    /// The digest of its bytes.
    pub digest: Digest,
}

impl<'a> Input<'a> {
    /// An input named by its path, digest computed from its bytes.
    pub fn from_path(path: &'a Path) -> Result<Input<'a>, DataError> {
        Ok(Input {
            path,
            name: path.display().to_string(),
            digest: file_digest(path)?,
        })
    }
}

/// Checks `data` against `schema` and, if given, its distribution against `reference`.
pub fn validate(
    data: &Input<'_>,
    schema: &Schema,
    reference: Option<(&Input<'_>, &PsiOptions)>,
) -> Result<ValidationReport, DataError> {
    let present: Vec<String> = file_schema(data.path)?
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut states = Vec::with_capacity(schema.columns.len());
    for spec in &schema.columns {
        let missing = !present.contains(&spec.name);
        states.push(
            ColumnState::new(spec, missing).map_err(|message| DataError::Schema {
                path: data.path.to_path_buf(),
                message,
            })?,
        );
    }
    let mut table_level = Vec::new();
    let extra: Vec<&String> = present
        .iter()
        .filter(|c| schema.column(c).is_none())
        .collect();
    if !extra.is_empty() && schema.extra_columns != ExtraColumns::Ignore {
        table_level.push(ExpectationResult {
            column: "*".into(),
            expectation: "extra_columns".into(),
            level: if schema.extra_columns == ExtraColumns::Error {
                Level::Error
            } else {
                Level::Warn
            },
            passed: false,
            expected: "only the columns the schema lists".into(),
            observed: format!(
                "{} column(s) not in the schema: {}",
                extra.len(),
                extra
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            offending_count: 0,
            offending: Vec::new(),
        });
    }

    // Reference bins, fitted before the data is read so it is counted in the same pass.
    let mut psi_columns: Vec<(usize, Reference, Window)> = Vec::new();
    let mut reference_ref = None;
    if let Some((reference, options)) = reference {
        let ref_columns: Vec<String> = file_schema(reference.path)?
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if let Some(wanted) = &options.columns {
            for w in wanted {
                if schema.column(w).is_none() || !present.contains(w) {
                    return Err(DataError::MissingColumn {
                        path: data.path.to_path_buf(),
                        column: w.clone(),
                        available: present.join(", "),
                    });
                }
                if !ref_columns.contains(w) {
                    return Err(DataError::MissingColumn {
                        path: reference.path.to_path_buf(),
                        column: w.clone(),
                        available: ref_columns.join(", "),
                    });
                }
            }
        }
        let chosen: Vec<usize> = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                present.contains(&c.name)
                    && ref_columns.contains(&c.name)
                    && options.columns.as_ref().is_none_or(|w| w.contains(&c.name))
            })
            .map(|(i, _)| i)
            .collect();
        let spec: Vec<_> = chosen
            .iter()
            .map(|&i| (schema.columns[i].name.clone(), schema.columns[i].ty))
            .collect();
        let (refs, rows) = fit_reference(reference.path, &spec, options)?;
        for (i, r) in chosen.into_iter().zip(refs) {
            let w = r.window();
            psi_columns.push((i, r, w));
        }
        reference_ref = Some(DatasetRef {
            path: reference.name.clone(),
            digest: reference.digest,
            rows,
        });
    }

    let read: Vec<usize> = (0..states.len()).filter(|&i| !states[i].missing).collect();
    let names: Vec<String> = read.iter().map(|&i| states[i].spec.name.clone()).collect();
    let mut reader = TableReader::open(data.path, &names)?;
    let mut window_of: Vec<Option<usize>> = vec![None; states.len()];
    for (k, (i, _, _)) in psi_columns.iter().enumerate() {
        window_of[*i] = Some(k);
    }
    while let Some((first, arrays)) = reader.next_batch()? {
        for (k, &i) in read.iter().enumerate() {
            let state = &mut states[i];
            if state.has_type_error() {
                continue;
            }
            match convert(&arrays[k], state.spec.ty) {
                Ok(converted) => {
                    state.update(first, &converted);
                    if let Some(w) = window_of[i] {
                        psi_columns[w].2.push(&converted.typed);
                    }
                }
                Err(message) => state.set_type_error(message),
            }
        }
    }
    let rows = reader.rows_read();
    if let Some(range) = &schema.rows {
        let ok = range.min.is_none_or(|m| rows >= m) && range.max.is_none_or(|m| rows <= m);
        let end = |v: Option<u64>, open: &str| v.map(|x| x.to_string()).unwrap_or(open.into());
        table_level.push(ExpectationResult {
            column: "*".into(),
            expectation: "rows".into(),
            level: range.level,
            passed: ok,
            expected: format!(
                "between {} and {} rows",
                end(range.min, "0"),
                end(range.max, "any number of")
            ),
            observed: format!("{rows} rows"),
            offending_count: 0,
            offending: Vec::new(),
        });
    }

    let columns = states
        .iter()
        .filter(|s| !s.missing)
        .map(|s| s.stats())
        .collect();
    let mut expectations = table_level;
    let type_failed: Vec<bool> = states
        .iter()
        .map(|s| s.has_type_error() || s.missing)
        .collect();
    for state in states {
        expectations.extend(state.results());
    }
    let distribution = match (reference_ref, reference) {
        (Some(reference), Some((_, options))) => {
            let mut results = Vec::new();
            for (i, r, w) in &psi_columns {
                if type_failed[*i] {
                    continue;
                }
                let column = &schema.columns[*i].name;
                let psi = r.score(column, w)?;
                results.push(DistributionResult {
                    column: column.clone(),
                    binning: r.binning().to_string(),
                    psi,
                    passed: psi < options.threshold,
                });
            }
            Some(DistributionReport {
                reference,
                threshold: options.threshold,
                bins: options.bins,
                level: options.level,
                columns: results,
            })
        }
        _ => None,
    };
    Ok(ValidationReport::new(
        DatasetRef {
            path: data.name.clone(),
            digest: data.digest,
            rows,
        },
        TableFormat::of_path(data.path).as_str(),
        columns,
        expectations,
        distribution,
    ))
}
