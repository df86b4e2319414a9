//! A small document model for generated governance documents (model cards, validation reports,
//! evidence indexes), rendered to Markdown and to standalone HTML from the same structure.

use std::fmt::Write;

/// A block of a document.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A paragraph of plain text.
    Paragraph(String),
    /// `key: value` facts.
    Facts(Vec<(String, String)>),
    /// A table: header and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A bulleted list.
    List(Vec<String>),
    /// Preformatted text (digests, trees).
    Code(String),
    /// An SVG chart (from [`crate::chart`]), inlined in both formats.
    Svg(String),
}

/// A titled section.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Content.
    pub blocks: Vec<Block>,
}

/// A document: a title, a subtitle line and sections.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Title (h1).
    pub title: String,
    /// One line under the title.
    pub subtitle: String,
    /// Sections in order.
    pub sections: Vec<Section>,
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Document {
    /// The document as Markdown (GitHub flavour tables).
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n\n{}\n", self.title, self.subtitle);
        for section in &self.sections {
            let _ = writeln!(out, "## {}\n", section.title);
            for block in &section.blocks {
                match block {
                    Block::Paragraph(text) => {
                        let _ = writeln!(out, "{text}\n");
                    }
                    Block::Facts(facts) => {
                        for (k, v) in facts {
                            let _ = writeln!(out, "- **{k}:** {v}");
                        }
                        out.push('\n');
                    }
                    Block::Table(header, rows) => {
                        let _ = writeln!(
                            out,
                            "| {} |",
                            header
                                .iter()
                                .map(|h| md_cell(h))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        );
                        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                        for row in rows {
                            let _ = writeln!(
                                out,
                                "| {} |",
                                row.iter()
                                    .map(|c| md_cell(c))
                                    .collect::<Vec<_>>()
                                    .join(" | ")
                            );
                        }
                        out.push('\n');
                    }
                    Block::List(items) => {
                        for item in items {
                            let _ = writeln!(out, "- {item}");
                        }
                        out.push('\n');
                    }
                    Block::Code(text) => {
                        let _ = writeln!(out, "```\n{}\n```\n", text.trim_end());
                    }
                    // Markdown allows inline HTML; viewers that render it show the chart.
                    Block::Svg(svg) => {
                        let _ = writeln!(out, "{svg}\n");
                    }
                }
            }
        }
        out
    }

    /// The document as a standalone HTML page (inline CSS, no scripts, no external resources).
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
th{{background:#f4f4f4}}code,pre{{font-family:ui-monospace,monospace;font-size:.9em}}pre{{background:#f7f7f7;padding:.8em;overflow:auto}}\
.sub{{color:#666}}</style></head><body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
            html_escape(&self.title),
            html_escape(&self.title),
            html_escape(&self.subtitle)
        );
        for section in &self.sections {
            let _ = writeln!(out, "<h2>{}</h2>", html_escape(&section.title));
            for block in &section.blocks {
                match block {
                    Block::Paragraph(text) => {
                        let _ = writeln!(out, "<p>{}</p>", html_escape(text));
                    }
                    Block::Facts(facts) => {
                        out.push_str("<ul>\n");
                        for (k, v) in facts {
                            let _ = writeln!(
                                out,
                                "<li><strong>{}:</strong> {}</li>",
                                html_escape(k),
                                html_escape(v)
                            );
                        }
                        out.push_str("</ul>\n");
                    }
                    Block::Table(header, rows) => {
                        out.push_str("<table><tr>");
                        for h in header {
                            let _ = write!(out, "<th>{}</th>", html_escape(h));
                        }
                        out.push_str("</tr>\n");
                        for row in rows {
                            out.push_str("<tr>");
                            for c in row {
                                let _ = write!(out, "<td>{}</td>", html_escape(c));
                            }
                            out.push_str("</tr>\n");
                        }
                        out.push_str("</table>\n");
                    }
                    Block::List(items) => {
                        out.push_str("<ul>\n");
                        for item in items {
                            let _ = writeln!(out, "<li>{}</li>", html_escape(item));
                        }
                        out.push_str("</ul>\n");
                    }
                    Block::Code(text) => {
                        let _ = writeln!(out, "<pre>{}</pre>", html_escape(text.trim_end()));
                    }
                    Block::Svg(svg) => {
                        let _ = writeln!(out, "<figure>{svg}</figure>");
                    }
                }
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_formats_and_escapes() {
        let doc = Document {
            title: "Model card: m@1".into(),
            subtitle: "generated".into(),
            sections: vec![Section {
                title: "Facts".into(),
                blocks: vec![
                    Block::Facts(vec![("owner".into(), "<risk>".into())]),
                    Block::Table(
                        vec!["a".into(), "b".into()],
                        vec![vec!["1|2".into(), "3".into()]],
                    ),
                ],
            }],
        };
        let md = doc.to_markdown();
        assert!(
            md.contains("- **owner:** <risk>") && md.contains("| 1\\|2 | 3 |"),
            "{md}"
        );
        let html = doc.to_html();
        assert!(
            html.contains("&lt;risk&gt;") && !html.contains("<risk>"),
            "{html}"
        );
        assert!(html.starts_with("<!doctype html>"));
    }
}
