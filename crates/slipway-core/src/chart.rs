//! Small, dependency-free SVG charts for generated documents: bars with threshold lines (PSI
//! per feature) and line series with horizontal and vertical markers (metric curves, an SLO
//! series with its floor and alert day). Output is deterministic text, so documents stay
//! byte-stable.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 48.0;
const PALETTE: [&str; 6] = [
    "#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A labelled horizontal line (a threshold, a floor).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Shown beside the line.
    pub label: String,
    /// Where (a y value for horizontal markers, an x value for vertical ones).
    pub at: f64,
    /// Stroke colour.
    pub color: &'static str,
}

/// A named series of (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"11\">\
<title>{t}</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
<text x=\"{LEFT}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{t}</text>",
        t = escape(title)
    );
}

/// Round numbers for an axis from 0 (or `lo`) to at least `hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    (0..=12)
        .map(|i| first + step * i as f64)
        .take_while(|v| *v <= hi + step * 0.999)
        .collect()
}

fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn y_axis(out: &mut String, ticks: &[f64], y: &dyn Fn(f64) -> f64) {
    for t in ticks {
        let py = y(*t);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            num(*t)
        );
    }
}

fn h_marker(out: &mut String, m: &Marker, y: &dyn Fn(f64) -> f64) {
    let py = y(m.at);
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"{c}\" stroke-dasharray=\"5 3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{c}\">{}</text>",
        WIDTH - RIGHT,
        WIDTH - RIGHT - 2.0,
        py - 4.0,
        escape(&m.label),
        c = m.color
    );
}

/// A bar per `(label, value)`, with horizontal threshold markers; a bar at or above the
/// highest marker is drawn in that marker's colour.
pub fn bars(title: &str, bars: &[(String, f64)], markers: &[Marker]) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let max = bars
        .iter()
        .map(|b| b.1)
        .chain(markers.iter().map(|m| m.at))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let ticks = ticks(0.0, max * 1.1);
    let top = *ticks.last().unwrap_or(&max);
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v / top);
    y_axis(&mut out, &ticks, &y);
    let band = (WIDTH - LEFT - RIGHT) / bars.len().max(1) as f64;
    let mut sorted: Vec<&Marker> = markers.iter().collect();
    sorted.sort_by(|a, b| b.at.total_cmp(&a.at));
    for (i, (label, value)) in bars.iter().enumerate() {
        let color = sorted
            .iter()
            .find(|m| *value >= m.at)
            .map_or(PALETTE[0], |m| m.color);
        let x = LEFT + band * i as f64 + band * 0.15;
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y(*value),
            band * 0.7,
            (y(0.0) - y(*value)).max(0.0),
            escape(label),
            num(*value),
            x + band * 0.35,
            HEIGHT - BOTTOM + 14.0,
            escape(label)
        );
    }
    for m in markers {
        h_marker(&mut out, m, &y);
    }
    out.push_str("</svg>");
    out
}

/// Line series over a shared x axis, with horizontal markers (`hlines`, y values) and
/// vertical markers (`vlines`, x values).
pub fn lines(
    title: &str,
    x_label: &str,
    series: &[Series],
    hlines: &[Marker],
    vlines: &[Marker],
) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(hlines.iter().map(|m| m.at));
    let (x_lo, x_hi) = xs
        .chain(vlines.iter().map(|m| m.at))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let (y_lo, y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !x_lo.is_finite() || !y_lo.is_finite() {
        out.push_str("<text x=\"320\" y=\"150\" text-anchor=\"middle\">no data</text></svg>");
        return out;
    }
    let pad = ((y_hi - y_lo) * 0.1).max(1e-6);
    let ticks = ticks(y_lo - pad, y_hi + pad);
    let (t_lo, t_hi) = (ticks[0], *ticks.last().unwrap_or(&(y_hi + pad)));
    let x_span = (x_hi - x_lo).max(1e-12);
    let x = |v: f64| LEFT + (WIDTH - LEFT - RIGHT) * (v - x_lo) / x_span;
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (v - t_lo) / (t_hi - t_lo).max(1e-12));
    y_axis(&mut out, &ticks, &y);
    for t in self::ticks(x_lo, x_hi)
        .into_iter()
        .filter(|t| *t >= x_lo && *t <= x_hi)
    {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x(t),
            HEIGHT - BOTTOM + 14.0,
            num(t)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 12.0,
        escape(x_label)
    );
    for m in hlines {
        h_marker(&mut out, m, &y);
    }
    for m in vlines {
        let px = x(m.at);
        let _ = write!(
            out,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-dasharray=\"2 2\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{c}\">{}</text>",
            HEIGHT - BOTTOM,
            px + 3.0,
            TOP + 10.0,
            escape(&m.label),
            c = m.color
        );
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            points.join(" "),
            LEFT + 8.0 + 140.0 * i as f64,
            TOP + 4.0,
            escape(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_colour_what_crosses_a_threshold_and_escape_labels() {
        let svg = bars(
            "PSI <per feature>",
            &[("income".into(), 0.31), ("age".into(), 0.02)],
            &[
                Marker {
                    label: "moderate 0.1".into(),
                    at: 0.1,
                    color: "#d69e2e",
                },
                Marker {
                    label: "significant 0.25".into(),
                    at: 0.25,
                    color: "#c53030",
                },
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("PSI &lt;per feature&gt;"));
        assert!(
            svg.contains("fill=\"#c53030\"><title>income: 0.31</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("fill=\"#2b6cb0\"><title>age: 0.02</title>"),
            "{svg}"
        );
        assert_eq!(
            svg,
            bars(
                "PSI <per feature>",
                &[("income".into(), 0.31), ("age".into(), 0.02)],
                &[
                    Marker {
                        label: "moderate 0.1".into(),
                        at: 0.1,
                        color: "#d69e2e"
                    },
                    Marker {
                        label: "significant 0.25".into(),
                        at: 0.25,
                        color: "#c53030"
                    },
                ]
            ),
            "deterministic"
        );
    }

    #[test]
    fn lines_draw_series_and_markers_and_survive_empty_input() {
        let svg = lines(
            "daily accuracy",
            "day",
            &[Series {
                name: "5-day mean".into(),
                points: vec![(4.0, 0.91), (5.0, 0.87), (6.0, 0.86)],
            }],
            &[Marker {
                label: "floor 0.88".into(),
                at: 0.88,
                color: "#c53030",
            }],
            &[Marker {
                label: "alert day 6".into(),
                at: 6.0,
                color: "#c53030",
            }],
        );
        assert!(
            svg.contains("<polyline") && svg.contains("floor 0.88") && svg.contains("alert day 6")
        );
        assert!(lines("x", "day", &[], &[], &[]).contains("no data"));
        assert_eq!(
            ticks(0.0, 0.33),
            vec![0.0, 0.1, 0.2, 0.30000000000000004, 0.4]
        );
    }
}
