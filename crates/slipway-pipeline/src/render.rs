//! The DAG for people and tools: text, Graphviz dot, Mermaid and JSON, marking stale stages.

use crate::status::StageStatus;
use slipway_core::pipeline::Pipeline;
use std::collections::HashMap;
use std::fmt::Write;

/// Output formats of `slipway dag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Indented text: each stage with what it depends on.
    Text,
    /// Graphviz `dot`.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// JSON: stages (with deps, outs, stale reason) and edges.
    Json,
}

/// Renders the pipeline; `status` (optional) marks stale stages.
pub fn render(pipeline: &Pipeline, status: &[StageStatus], format: Format) -> String {
    let reasons: HashMap<&str, String> = status
        .iter()
        .filter_map(|s| s.reason.as_ref().map(|r| (s.name.as_str(), r.to_string())))
        .collect();
    let name = |id| pipeline.stage(id).name.as_str();
    let mut out = String::new();
    match format {
        Format::Text => {
            for &id in pipeline.topo_order() {
                let stage = pipeline.stage(id);
                match reasons.get(stage.name.as_str()) {
                    Some(reason) => {
                        let _ = writeln!(out, "{}  (stale: {reason})", stage.name);
                    }
                    None => {
                        let _ = writeln!(out, "{}", stage.name);
                    }
                }
                for &up in pipeline.dependencies(id) {
                    let _ = writeln!(out, "  <- {}", name(up));
                }
            }
        }
        Format::Dot => {
            out.push_str("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
            for &id in pipeline.topo_order() {
                let stage = &pipeline.stage(id).name;
                let style = if reasons.contains_key(stage.as_str()) {
                    ", style=\"rounded,filled\", fillcolor=\"#f8d7da\""
                } else {
                    ""
                };
                let _ = writeln!(out, "  {} [label={}{style}];", quote(stage), quote(stage));
            }
            for (from, to) in pipeline.edges() {
                let _ = writeln!(out, "  {} -> {};", quote(name(from)), quote(name(to)));
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart LR\n");
            let ids: HashMap<&str, String> = pipeline
                .topo_order()
                .iter()
                .enumerate()
                .map(|(i, id)| (name(*id), format!("s{i}")))
                .collect();
            for &id in pipeline.topo_order() {
                let _ = writeln!(
                    out,
                    "  {}[\"{}\"]",
                    ids[name(id)],
                    name(id).replace('"', "#quot;")
                );
            }
            for (from, to) in pipeline.edges() {
                let _ = writeln!(out, "  {} --> {}", ids[name(from)], ids[name(to)]);
            }
            let stale: Vec<&str> = pipeline
                .topo_order()
                .iter()
                .filter(|id| reasons.contains_key(name(**id)))
                .map(|id| ids[name(*id)].as_str())
                .collect();
            if !stale.is_empty() {
                out.push_str("  classDef stale fill:#f8d7da,stroke:#b02a37\n");
                let _ = writeln!(out, "  class {} stale", stale.join(","));
            }
        }
        Format::Json => {
            let stages: Vec<_> = pipeline
                .topo_order()
                .iter()
                .map(|&id| {
                    let stage = pipeline.stage(id);
                    serde_json::json!({
                        "name": stage.name,
                        "stale": reasons.contains_key(stage.name.as_str()),
                        "reason": reasons.get(stage.name.as_str()),
                        "deps": stage.deps.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
                        "outs": stage.outputs().map(|o| o.path.as_str()).collect::<Vec<_>>(),
                        "upstream": pipeline.dependencies(id).iter().map(|u| name(*u)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let edges: Vec<_> = pipeline
                .edges()
                .into_iter()
                .map(|(a, b)| [name(a), name(b)])
                .collect();
            out = serde_json::to_string_pretty(
                &serde_json::json!({"stages": stages, "edges": edges}),
            )
            .expect("json");
            out.push('\n');
        }
    }
    out
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
