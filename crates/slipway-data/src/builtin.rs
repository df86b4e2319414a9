//! `slipway/validate`: data tests as a pipeline stage.
//!
//! ```yaml
//! validate:
//!   uses: slipway/validate
//!   with:
//!     data: data/train.parquet          # CSV or Parquet
//!     schema: schema.yaml               # see `schema`
//!     reference: data/reference.parquet # optional: distribution test
//!     psi: {threshold: 0.25, bins: 10, level: error}   # optional
//!     report: reports/validation.json   # default; Markdown beside it (.md)
//! ```
//! The stage fails when any error-level expectation fails, listing every failure.

use crate::distribution::PsiOptions;
use crate::schema::Schema;
use crate::validate::{Input, validate};
use slipway_core::reports::Level;
use slipway_core::{ArtifactKind, RelPath};
use slipway_pipeline::builtins::{known_args, opt_path_arg, path_arg};
use slipway_pipeline::{Builtin, BuiltinContext, BuiltinFailure, BuiltinOutput, Declared};
use slipway_store::hashing::TreeHasher;

/// The `slipway/validate` built-in.
pub struct ValidateBuiltin;

const DEFAULT_REPORT: &str = "reports/validation.json";

fn report_paths(with: &serde_json::Value) -> Result<(RelPath, RelPath), String> {
    let json = opt_path_arg(with, "report")?
        .unwrap_or_else(|| RelPath::new(DEFAULT_REPORT).expect("valid"));
    if !json.as_str().ends_with(".json") {
        return Err(format!(
            "argument 'report' must end in .json (the Markdown report is written beside it), found '{json}'"
        ));
    }
    let md = RelPath::new(&format!("{}.md", json.as_str().trim_end_matches(".json")))
        .map_err(|e| format!("argument 'report': {e}"))?;
    Ok((json, md))
}

/// Reads the `psi:` argument.
pub fn psi_options(with: &serde_json::Value) -> Result<PsiOptions, String> {
    let mut o = PsiOptions::default();
    let Some(psi) = with.get("psi") else {
        return Ok(o);
    };
    known_args(
        psi,
        &["threshold", "bins", "columns", "level", "max_categories"],
    )
    .map_err(|e| format!("psi: {e}"))?;
    if let Some(t) = psi.get("threshold") {
        o.threshold = t
            .as_f64()
            .filter(|t| *t > 0.0)
            .ok_or_else(|| format!("psi.threshold must be a number > 0, found {t}"))?;
    }
    if let Some(b) = psi.get("bins") {
        o.bins = b
            .as_u64()
            .filter(|b| (2..=1000).contains(b))
            .ok_or_else(|| format!("psi.bins must be an integer from 2 to 1000, found {b}"))?
            as usize;
    }
    if let Some(m) = psi.get("max_categories") {
        o.max_categories = m
            .as_u64()
            .filter(|m| *m >= 1)
            .ok_or_else(|| format!("psi.max_categories must be an integer >= 1, found {m}"))?
            as usize;
    }
    if let Some(c) = psi.get("columns") {
        let list = c
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .ok_or_else(|| format!("psi.columns must be a list of column names, found {c}"))?;
        o.columns = Some(list);
    }
    if let Some(l) = psi.get("level") {
        o.level = level(l).map_err(|e| format!("psi.level: {e}"))?;
    }
    Ok(o)
}

/// Reads `error` or `warn`.
pub fn level(v: &serde_json::Value) -> Result<Level, String> {
    match v.as_str() {
        Some("error") => Ok(Level::Error),
        Some("warn") => Ok(Level::Warn),
        _ => Err(format!("must be `error` or `warn`, found {v}")),
    }
}

impl Builtin for ValidateBuiltin {
    fn name(&self) -> &'static str {
        "slipway/validate"
    }

    fn declare(&self, with: &serde_json::Value) -> Result<Declared, String> {
        known_args(with, &["data", "schema", "reference", "psi", "report"])?;
        let mut deps = vec![path_arg(with, "data")?, path_arg(with, "schema")?];
        if let Some(r) = opt_path_arg(with, "reference")? {
            deps.push(r);
        } else if with.get("psi").is_some() {
            return Err("argument 'psi' needs 'reference' (the dataset to compare with)".into());
        }
        psi_options(with)?;
        let (json, md) = report_paths(with)?;
        Ok(Declared {
            deps,
            outs: vec![
                (json, Some(ArtifactKind::Report)),
                (md, Some(ArtifactKind::Report)),
            ],
        })
    }

    fn run(&self, ctx: &BuiltinContext<'_>) -> Result<BuiltinOutput, BuiltinFailure> {
        let data_rel = path_arg(ctx.with, "data")?;
        let schema_rel = path_arg(ctx.with, "schema")?;
        let reference_rel = opt_path_arg(ctx.with, "reference")?;
        let options = psi_options(ctx.with)?;
        let (json_rel, md_rel) = report_paths(ctx.with)?;
        let fail = |e: &dyn std::fmt::Display| BuiltinFailure::new(e.to_string());
        let schema = Schema::load(&ctx.path(&schema_rel)).map_err(|e| fail(&e))?;
        let hasher = TreeHasher::new(ctx.workspace.meta());
        let input = |rel: &RelPath| -> Result<
            (std::path::PathBuf, String, slipway_core::Digest),
            BuiltinFailure,
        > {
            let path = ctx.path(rel);
            let digest = hasher.hash(&path).map_err(|e| fail(&e))?.digest();
            Ok((path, rel.to_string(), digest))
        };
        let (data_path, data_name, data_digest) = input(&data_rel)?;
        let data = Input {
            path: &data_path,
            name: data_name,
            digest: data_digest,
        };
        let reference_parts = reference_rel.as_ref().map(&input).transpose()?;
        let reference = reference_parts.as_ref().map(|(p, n, d)| Input {
            path: p,
            name: n.clone(),
            digest: *d,
        });
        let started = std::time::Instant::now();
        let report = validate(&data, &schema, reference.as_ref().map(|r| (r, &options)))
            .map_err(|e| fail(&e))?;
        let elapsed = started.elapsed();
        for (rel, text) in [
            (
                &json_rel,
                serde_json::to_string_pretty(&report).expect("plain data") + "\n",
            ),
            (&md_rel, report.to_markdown()),
        ] {
            let path = ctx.path(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
            }
            std::fs::write(&path, text)
                .map_err(|e| fail(&format!("cannot write {}: {e}", path.display())))?;
        }
        let mut out = BuiltinOutput::default();
        out.metric("validation.rows", report.data.rows as f64, 0);
        out.metric("validation.errors", report.errors as f64, 0);
        out.metric("validation.warnings", report.warnings as f64, 0);
        if let Some(d) = &report.distribution {
            for c in &d.columns {
                out.metric(format!("psi.{}", c.column), c.psi, 0);
            }
        }
        out.say(format!(
            "validated {} ({} rows, {} expectations) in {:.3} s: {} error(s), {} warning(s); report {json_rel}",
            data_rel,
            report.data.rows,
            report.expectations.len(),
            elapsed.as_secs_f64(),
            report.errors,
            report.warnings
        ));
        // Warnings go to the log; errors are the failure message (which the log also gets).
        let lines = report.failure_lines();
        for line in lines.iter().filter(|l| l.starts_with("warn:")) {
            out.say(line);
        }
        if report.passed {
            Ok(out)
        } else {
            let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("error:")).collect();
            Err(BuiltinFailure::with_output(
                format!(
                    "{} error-level expectation(s) failed on {data_rel} (report: {json_rel}):\n  {}",
                    report.errors,
                    errors
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ),
                out,
            ))
        }
    }
}
