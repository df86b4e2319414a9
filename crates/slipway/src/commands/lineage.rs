//! `slipway lineage TARGET [--forward]`.

use super::Context;
use crate::Outcome;
use crate::cli::{DagFormat, LineageArgs};
use crate::output::{print_json, print_line};
use anyhow::{Result, bail};
use slipway_store::lineage::{Lineage, LineageNode, LineageTarget};
use slipway_store::{MetadataStore, TreeHasher, Workspace};
use std::fmt::Write;
use std::path::Path;

fn resolve(ws: &Workspace, text: &str) -> Result<LineageTarget> {
    if let Some((name, version)) = text.rsplit_once('@')
        && let Ok(version) = version.parse::<u64>()
    {
        return Ok(LineageTarget::ModelVersion(name.to_string(), version));
    }
    if text.len() == 32
        && text.chars().all(|c| c.is_ascii_hexdigit())
        && ws.meta().run(text).is_ok()
    {
        return Ok(LineageTarget::Run(text.to_string()));
    }
    let path = Path::new(text);
    if path.exists() {
        let digest = TreeHasher::new(ws.meta()).hash(path)?.digest();
        return Ok(LineageTarget::Artifact(digest, Some(text.to_string())));
    }
    match ws.resolve(text) {
        Ok(digest) => Ok(LineageTarget::Artifact(digest, None)),
        Err(_) => bail!(
            "`{text}` is not a logged prediction id, NAME@VERSION, a run id, an existing path, or a stored digest or reference"
        ),
    }
}

/// A logged prediction with this id, if the text is one and the log has it.
fn logged_prediction(
    ws: &Workspace,
    text: &str,
) -> Result<Option<slipway_store::predlog::PredictionRecord>> {
    let Ok(id) = text.parse::<slipway_store::predlog::PredictionId>() else {
        return Ok(None);
    };
    let reader = slipway_store::predlog::PredictionReader::new(&ws.dir().join("predictions"));
    Ok(reader.find(id)?)
}

pub fn run(ctx: &Context, args: LineageArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let lineage = Lineage::new(ws.meta());
    let prediction = if args.forward {
        None
    } else {
        logged_prediction(&ws, &args.target)?
    };
    let tree = if let Some(record) = prediction {
        let label = ws.meta().labels()?.get(&record.id.to_string()).copied();
        lineage.prediction(&record, label)?
    } else if args.forward {
        let target = resolve(&ws, &args.target)?;
        match &target {
            LineageTarget::Artifact(digest, path) => lineage.forward(digest, path.as_deref())?,
            _ => bail!(
                "--forward starts from a file, directory or digest (what it feeds); give a path or digest"
            ),
        }
    } else {
        lineage.backward(&resolve(&ws, &args.target)?)?
    };
    let format = if ctx.json {
        DagFormat::Json
    } else {
        args.format
    };
    match format {
        DagFormat::Json => print_json(&serde_json::to_value(&tree)?)?,
        DagFormat::Text => {
            let mut out = String::new();
            text_tree(&tree, "", true, true, &mut out);
            print!("{out}");
        }
        DagFormat::Dot => {
            let mut out = String::from(
                "digraph lineage {\n  rankdir=BT;\n  node [shape=box, style=rounded];\n",
            );
            for n in tree.nodes() {
                let _ = writeln!(
                    out,
                    "  \"{}\" [label=\"{}\"];",
                    n.id,
                    n.label.replace('"', "'")
                );
            }
            for (a, b) in tree.edges() {
                let _ = writeln!(out, "  \"{b}\" -> \"{a}\";");
            }
            out.push_str("}\n");
            print_line(out.trim_end())?;
        }
        DagFormat::Mermaid => {
            let mut out = String::from("flowchart BT\n");
            let nodes = tree.nodes();
            let index = |id: &str| nodes.iter().position(|n| n.id == id).unwrap_or(0);
            for (i, n) in nodes.iter().enumerate() {
                let _ = writeln!(out, "  n{i}[\"{}\"]", n.label.replace('"', "#quot;"));
            }
            for (a, b) in tree.edges() {
                let _ = writeln!(out, "  n{} --> n{}", index(&b), index(&a));
            }
            print_line(out.trim_end())?;
        }
    }
    Ok(Outcome::Ok)
}

fn text_tree(node: &LineageNode, prefix: &str, last: bool, root: bool, out: &mut String) {
    let (branch, cont) = if root {
        ("", "")
    } else if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    let _ = writeln!(
        out,
        "{prefix}{branch}{}{}",
        node.label,
        if node.repeated { "  (see above)" } else { "" }
    );
    let inner = format!("{prefix}{cont}");
    for d in &node.details {
        let bar = if node.children.is_empty() {
            "   "
        } else {
            "│  "
        };
        let _ = writeln!(out, "{inner}{bar}{d}");
    }
    for (i, child) in node.children.iter().enumerate() {
        text_tree(child, &inner, i + 1 == node.children.len(), false, out);
    }
}
