//! The champion/challenger gate: promote a challenger only if it beats the champion on the
//! primary metric by more than a margin and breaches no guardrail.
//!
//! The rule is the seed's, exactly: `metric_ok = (challenger - champion) > delta` (strict; for a
//! lower-is-better metric the improvement is `champion - challenger`), a guardrail
//! `name=value<=bound` holds when `value <= bound` (`>=` likewise), and the verdict is
//! [`Verdict::Promote`] iff the metric is ok and no guardrail is breached. [`decide`] returns a
//! [`Decision`] with every reason, human-readable, in a fixed order: the metric first, then each
//! guardrail in the order given.
//!
//! A [`DecisionRecord`] (inputs, outcome and optional subject) has a canonical JSON encoding
//! ([`DecisionRecord::canonical_json`]) whose digest identifies the decision: approvals bind to
//! it, so re-running the gate with other numbers invalidates them.

use crate::Digest;
use crate::pipeline::canonical_json;
use std::fmt;
use std::str::FromStr;

/// The format tag of a [`DecisionRecord`]; part of its canonical encoding and so of its digest.
pub const DECISION_FORMAT: &str = "slipway-gate-decision/1";

/// Which way the primary metric improves.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (AUC, accuracy).
    #[default]
    Higher,
    /// Smaller is better (log loss, error rate).
    Lower,
}

impl Direction {
    /// `higher` or `lower`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown direction name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric direction `{0}`; expected `higher` or `lower`")]
pub struct UnknownDirection(pub String);

impl FromStr for Direction {
    type Err = UnknownDirection;
    fn from_str(text: &str) -> Result<Direction, UnknownDirection> {
        match text {
            "higher" => Ok(Direction::Higher),
            "lower" => Ok(Direction::Lower),
            _ => Err(UnknownDirection(text.to_string())),
        }
    }
}

/// How a guardrail value must compare with its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Comparison {
    /// `value <= bound` (latency, fairness gap, calibration error).
    #[serde(rename = "<=")]
    AtMost,
    /// `value >= bound` (recall on a protected slice, throughput).
    #[serde(rename = ">=")]
    AtLeast,
}

impl Comparison {
    /// `<=` or `>=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::AtMost => "<=",
            Comparison::AtLeast => ">=",
        }
    }

    /// Whether `value` satisfies the comparison against `bound` (false when either is NaN).
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Comparison::AtMost => value <= bound,
            Comparison::AtLeast => value >= bound,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A guardrail on the challenger: a named value that must stay on the right side of a bound.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Guardrail {
    /// Name, e.g. `p99_latency_ms`.
    pub name: String,
    /// The challenger's measured value.
    pub value: f64,
    /// How `value` must compare with `bound`.
    pub comparison: Comparison,
    /// The bound.
    pub bound: f64,
}

impl Guardrail {
    /// A guardrail `name=value<=bound`.
    pub fn at_most(name: &str, value: f64, bound: f64) -> Guardrail {
        Guardrail {
            name: name.to_string(),
            value,
            comparison: Comparison::AtMost,
            bound,
        }
    }

    /// A guardrail `name=value>=bound`.
    pub fn at_least(name: &str, value: f64, bound: f64) -> Guardrail {
        Guardrail {
            name: name.to_string(),
            value,
            comparison: Comparison::AtLeast,
            bound,
        }
    }

    /// Whether the guardrail holds.
    pub fn holds(&self) -> bool {
        self.comparison.holds(self.value, self.bound)
    }
}

impl fmt::Display for Guardrail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}{}{}",
            self.name, self.value, self.comparison, self.bound
        )
    }
}

/// Why a `--guardrail` argument is not of the form `name=value<=bound` or `name=value>=bound`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardrailParseError {
    /// No `=` separating the name from the value.
    #[error(
        "guardrail `{text}` has no `=`; write it as `name=value<=bound` or `name=value>=bound`, e.g. `p99_latency_ms=180<=200`"
    )]
    MissingEquals {
        /// The argument as given.
        text: String,
    },
    /// The name before `=` is empty or contains characters other than letters, digits, `_`,
    /// `-`, `.` and `/`.
    #[error(
        "guardrail `{text}`: name `{name}` is not valid; use letters, digits, `_`, `-`, `.` or `/`"
    )]
    Name {
        /// The argument as given.
        text: String,
        /// The name found.
        name: String,
    },
    /// Neither `<=` nor `>=` (or more than one comparison) after the value.
    #[error(
        "guardrail `{text}` needs exactly one `<=` or `>=` between value and bound, e.g. `fairness_gap=0.030<=0.050`"
    )]
    Comparison {
        /// The argument as given.
        text: String,
    },
    /// The value or the bound is not a finite number.
    #[error("guardrail `{text}`: {field} `{number}` is not a finite number")]
    Number {
        /// The argument as given.
        text: String,
        /// `value` or `bound`.
        field: &'static str,
        /// The text that failed to parse.
        number: String,
    },
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

impl FromStr for Guardrail {
    type Err = GuardrailParseError;

    /// Parses the CLI form `name=value<=bound` or `name=value>=bound` (spaces around the parts
    /// are allowed).
    fn from_str(text: &str) -> Result<Guardrail, GuardrailParseError> {
        let owned = || text.to_string();
        let n_ops = text.matches("<=").count() + text.matches(">=").count();
        let (left, comparison, bound) = match (n_ops, text.find("<="), text.find(">=")) {
            (1, Some(at), None) => (&text[..at], Comparison::AtMost, &text[at + 2..]),
            (1, None, Some(at)) => (&text[..at], Comparison::AtLeast, &text[at + 2..]),
            _ if !text.contains('=') => {
                return Err(GuardrailParseError::MissingEquals { text: owned() });
            }
            _ => return Err(GuardrailParseError::Comparison { text: owned() }),
        };
        let (name, value) = left
            .split_once('=')
            .ok_or_else(|| GuardrailParseError::MissingEquals { text: owned() })?;
        let name = name.trim();
        if !valid_name(name) {
            return Err(GuardrailParseError::Name {
                text: owned(),
                name: name.to_string(),
            });
        }
        let number = |field: &'static str, s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| GuardrailParseError::Number {
                    text: owned(),
                    field,
                    number: s.trim().to_string(),
                })
        };
        Ok(Guardrail {
            name: name.to_string(),
            value: number("value", value)?,
            comparison,
            bound: number("bound", bound)?,
        })
    }
}

/// Everything the gate decides on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GateInput {
    /// The primary metric's name, e.g. `auc`.
    pub metric: String,
    /// Which way the primary metric improves.
    pub direction: Direction,
    /// The champion's value on the frozen holdout.
    pub champion: f64,
    /// The challenger's value on the same holdout.
    pub challenger: f64,
    /// The margin the improvement must exceed (strictly); zero or more.
    pub delta: f64,
    /// Guardrails on the challenger, in the order they are reported.
    pub guardrails: Vec<Guardrail>,
}

/// Why a [`GateInput`] cannot be decided on; lists every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gate input is not valid: {}", .problems.join("; "))]
pub struct GateInputError {
    /// Each problem, naming the field and what would be valid.
    pub problems: Vec<String>,
}

impl GateInput {
    /// Every problem with the input: an empty or invalid metric name, a non-finite champion,
    /// challenger or guardrail number, a negative or non-finite delta, duplicate guardrail names.
    pub fn validate(&self) -> Result<(), GateInputError> {
        let mut problems = Vec::new();
        if !valid_name(&self.metric) {
            problems.push(format!(
                "metric name `{}` is not valid; use letters, digits, `_`, `-`, `.` or `/`",
                self.metric
            ));
        }
        for (field, x) in [("champion", self.champion), ("challenger", self.challenger)] {
            if !x.is_finite() {
                problems.push(format!(
                    "{field} value {x} for `{}` is not a finite number",
                    self.metric
                ));
            }
        }
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            problems.push(format!(
                "delta {} is not valid; the margin must be a finite number >= 0",
                self.delta
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &self.guardrails {
            if !valid_name(&g.name) {
                problems.push(format!(
                    "guardrail name `{}` is not valid; use letters, digits, `_`, `-`, `.` or `/`",
                    g.name
                ));
            }
            if !seen.insert(g.name.as_str()) {
                problems.push(format!(
                    "guardrail `{}` is given more than once; give each guardrail once",
                    g.name
                ));
            }
            for (field, x) in [("value", g.value), ("bound", g.bound)] {
                if !x.is_finite() {
                    problems.push(format!(
                        "guardrail `{}` {field} {x} is not a finite number",
                        g.name
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(GateInputError { problems })
        }
    }
}

/// The gate's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The challenger replaces the champion.
    Promote,
    /// The champion stays.
    Keep,
}

impl Verdict {
    /// `promote` or `keep`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Keep => "keep",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of the gate, with every reason.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    /// Promote or keep.
    pub verdict: Verdict,
    /// Whether the improvement on the primary metric exceeds the margin.
    pub metric_ok: bool,
    /// The improvement in the better direction: `challenger - champion` for a higher-is-better
    /// metric, `champion - challenger` for a lower-is-better one.
    pub margin: f64,
    /// Names of the breached guardrails, in input order.
    pub breaches: Vec<String>,
    /// One human-readable sentence per check: the metric first, then every guardrail.
    pub reasons: Vec<String>,
}

/// Decides champion vs challenger. Errors only when the input is not valid (see
/// [`GateInput::validate`]); a "keep" is a successful decision.
pub fn decide(input: &GateInput) -> Result<Decision, GateInputError> {
    input.validate()?;
    let margin = match input.direction {
        Direction::Higher => input.challenger - input.champion,
        Direction::Lower => input.champion - input.challenger,
    };
    let metric_ok = margin > input.delta;
    let mut reasons = Vec::with_capacity(1 + input.guardrails.len());
    let better = match input.direction {
        Direction::Higher => "higher is better",
        Direction::Lower => "lower is better",
    };
    reasons.push(format!(
        "{metric}: challenger {chal} vs champion {champ} ({better}): improvement {margin} {cmp} the margin {delta}, so the metric {verdict}",
        metric = input.metric,
        chal = fmt_num(input.challenger),
        champ = fmt_num(input.champion),
        margin = fmt_signed(margin),
        cmp = if metric_ok {
            "exceeds"
        } else {
            "does not exceed"
        },
        delta = fmt_num(input.delta),
        verdict = if metric_ok { "passes" } else { "fails" },
    ));
    let mut breaches = Vec::new();
    for g in &input.guardrails {
        if g.holds() {
            reasons.push(format!(
                "guardrail {}: {} {} {} holds",
                g.name,
                fmt_num(g.value),
                g.comparison,
                fmt_num(g.bound)
            ));
        } else {
            let side = match g.comparison {
                Comparison::AtMost => "above",
                Comparison::AtLeast => "below",
            };
            reasons.push(format!(
                "guardrail {} breached: {} is {side} the bound {} (must be {} {})",
                g.name,
                fmt_num(g.value),
                fmt_num(g.bound),
                g.comparison,
                fmt_num(g.bound)
            ));
            breaches.push(g.name.clone());
        }
    }
    let verdict = if metric_ok && breaches.is_empty() {
        Verdict::Promote
    } else {
        Verdict::Keep
    };
    Ok(Decision {
        verdict,
        metric_ok,
        margin,
        breaches,
        reasons,
    })
}

/// A number for a human: at most 12 decimals (or 12 significant digits in scientific notation
/// for tiny magnitudes), trailing zeros trimmed, so `0.857 - 0.842` reads `0.015`.
fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    if x.abs() >= 1e-4 {
        let s = format!("{x:.12}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    } else {
        let s = format!("{x:.11e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

fn fmt_signed(x: f64) -> String {
    let s = fmt_num(x);
    if x > 0.0 { format!("+{s}") } else { s }
}

/// Who and what a gate decision was about; optional context recorded with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GateSubject {
    /// The registered model's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The champion's version, when there is one registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion_version: Option<u64>,
    /// The challenger's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger_version: Option<u64>,
    /// The digest of the frozen holdout both were evaluated on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Digest>,
    /// When the decision was made, milliseconds since the Unix epoch (passed in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at_ms: Option<i64>,
}

/// A gate decision as recorded: the inputs, the outcome and the subject. Its digest
/// ([`DecisionRecord::digest`]) is what approvals bind to.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionRecord {
    /// Always [`DECISION_FORMAT`].
    pub format: String,
    /// What the decision was about.
    #[serde(default)]
    pub subject: GateSubject,
    /// What the gate decided on.
    pub input: GateInput,
    /// What it decided.
    pub decision: Decision,
}

/// Why a JSON document is not a decision record this version can read.
#[derive(Debug, thiserror::Error)]
pub enum DecisionRecordError {
    /// Not JSON of the record's shape.
    #[error("gate decision record is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// The `format` field names another format.
    #[error("gate decision record has format `{found}`; this version reads `{DECISION_FORMAT}`")]
    Format {
        /// The format found.
        found: String,
    },
    /// The recorded decision is not what the gate decides for the recorded input.
    #[error(
        "gate decision record does not match its input: recorded {recorded}, the gate decides {recomputed}"
    )]
    Inconsistent {
        /// The recorded verdict.
        recorded: Verdict,
        /// The verdict recomputed from the input.
        recomputed: Verdict,
    },
    /// The recorded input is not valid.
    #[error(transparent)]
    Input(#[from] GateInputError),
}

impl DecisionRecord {
    /// Runs the gate on `input` and records the outcome with `subject`.
    pub fn decide(
        subject: GateSubject,
        input: GateInput,
    ) -> Result<DecisionRecord, GateInputError> {
        let decision = decide(&input)?;
        Ok(DecisionRecord {
            format: DECISION_FORMAT.to_string(),
            subject,
            input,
            decision,
        })
    }

    /// Canonical JSON: keys sorted, no whitespace, numbers in shortest round-trip form. Every
    /// number is finite (the input is validated), so the encoding round-trips exactly.
    pub fn canonical_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a decision record is plain data");
        canonical_json(&value)
    }

    /// The digest of [`DecisionRecord::canonical_json`]: the decision's identity.
    pub fn digest(&self) -> Digest {
        Digest::of(self.canonical_json().as_bytes())
    }

    /// Reads a record from JSON, checking the format and that the recorded outcome is what the
    /// gate decides for the recorded input (a hand-edited verdict is refused).
    pub fn from_json(text: &str) -> Result<DecisionRecord, DecisionRecordError> {
        let record: DecisionRecord = serde_json::from_str(text)?;
        if record.format != DECISION_FORMAT {
            return Err(DecisionRecordError::Format {
                found: record.format,
            });
        }
        let recomputed = decide(&record.input)?;
        if recomputed != record.decision {
            return Err(DecisionRecordError::Inconsistent {
                recorded: record.decision.verdict,
                recomputed: recomputed.verdict,
            });
        }
        Ok(record)
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
