//! Problems found in a pipeline file, each tied to a file, line, stage and field.

use crate::RelPathError;
use std::fmt;

/// Where a problem is: file, 1-based line, and when known the stage and the field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecLocation {
    /// File name as given by the caller, e.g. `slipway.yaml`.
    pub file: String,
    /// 1-based line; 0 when the reader could not tell.
    pub line: u32,
    /// Stage name (expanded, e.g. `train@lr-0.1`) when the problem is inside a stage.
    pub stage: Option<String>,
    /// Field path inside the stage or file, e.g. `deps[1]` or `outs[0].kind`.
    pub field: Option<String>,
}

impl fmt::Display for SpecLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(stage) = &self.stage {
            write!(f, ": stage '{stage}'")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        Ok(())
    }
}

/// One problem in a pipeline file (or in the params file it reads), with its location.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct SpecError {
    /// Where the problem is (boxed to keep `Result`s small).
    pub at: Box<SpecLocation>,
    /// What is wrong, and what would be valid.
    pub problem: SpecProblem,
}

impl SpecError {
    /// A problem at `file:line`, not yet tied to a stage or field.
    pub fn new(file: &str, line: u32, problem: SpecProblem) -> SpecError {
        SpecError {
            at: Box::new(SpecLocation {
                file: file.to_string(),
                line,
                stage: None,
                field: None,
            }),
            problem,
        }
    }

    /// The same problem, tied to a stage.
    pub fn in_stage(mut self, stage: &str) -> SpecError {
        self.at.stage = Some(stage.to_string());
        self
    }

    /// The same problem, tied to a field.
    pub fn in_field(mut self, field: impl Into<String>) -> SpecError {
        self.at.field = Some(field.into());
        self
    }
}

/// What is wrong. Messages start lowercase, name the value at fault and say what is valid.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecProblem {
    /// The text is not valid YAML.
    #[error("not valid YAML: {message}")]
    Syntax {
        /// The YAML reader's explanation.
        message: String,
    },
    /// A key that is not part of the format.
    #[error("unknown key '{key}'; {}", suggest_key(.suggestion.as_deref(), .valid))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The nearest valid key, if one is close.
        suggestion: Option<String>,
        /// Every valid key at this place.
        valid: &'static [&'static str],
    },
    /// A value of the wrong YAML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the format wants here.
        expected: &'static str,
        /// What was written.
        found: &'static str,
    },
    /// A stage with neither `cmd` nor `uses`.
    #[error(
        "stage has nothing to run; add 'cmd' (a shell command) or 'uses' (a built-in such as slipway/copy)"
    )]
    NoAction,
    /// A stage with both `cmd` and `uses`.
    #[error("'cmd' and 'uses' cannot both be given; keep one")]
    CmdAndUses,
    /// `with` given without `uses`.
    #[error("'with' passes arguments to a built-in and needs 'uses'; remove it or add 'uses'")]
    WithWithoutUses,
    /// A command with no non-empty line.
    #[error("command is empty; give at least one non-empty line")]
    EmptyCommand,
    /// `uses` that does not name a built-in.
    #[error("'uses' must name a built-in as 'slipway/NAME' (e.g. slipway/copy); found '{name}'")]
    BadUses {
        /// The value written.
        name: String,
    },
    /// `uses` naming a built-in that does not exist.
    #[error("unknown built-in '{name}'; available: {available}")]
    UnknownBuiltin {
        /// The name written.
        name: String,
        /// The built-ins this slipway has, comma-separated.
        available: String,
    },
    /// A built-in's `with` arguments are missing or of the wrong shape.
    #[error("{builtin}: {message}")]
    BuiltinArgs {
        /// The built-in.
        builtin: String,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// An absolute path.
    #[error("path '{path}' is absolute; write it relative to the project root (or to 'wdir')")]
    AbsolutePath {
        /// The path as written.
        path: String,
    },
    /// A path that leaves the project with `..`.
    #[error("path '{path}' leaves the project root through '..'; keep paths inside the project")]
    EscapingPath {
        /// The path as written.
        path: String,
    },
    /// A path that resolves to the project root itself.
    #[error("path '{path}' is the project root itself; name a file or directory inside it")]
    RootPath {
        /// The path as written.
        path: String,
    },
    /// A path with characters a stored path cannot have.
    #[error("{error}")]
    InvalidPath {
        /// Why the path is refused.
        error: RelPathError,
    },
    /// `${name}` naming no variable.
    #[error("unknown variable '${{{name}}}'; {}", suggest_var(.suggestion.as_deref()))]
    UnknownVariable {
        /// The dotted name inside `${...}`.
        name: String,
        /// The nearest defined name, if one is close.
        suggestion: Option<String>,
    },
    /// A `${...}` that cannot be substituted.
    #[error("cannot substitute '{text}': {why}")]
    BadInterpolation {
        /// The string containing the placeholder.
        text: String,
        /// Why.
        why: String,
    },
    /// A stage param key that the params file does not have.
    #[error("param '{key}' is not in {params_file}{}", suggest_param(.suggestion.as_deref(), *.file_missing))]
    MissingParam {
        /// The dotted key.
        key: String,
        /// The params file it was looked up in.
        params_file: String,
        /// The nearest existing key, if one is close.
        suggestion: Option<String>,
        /// Whether the params file does not exist at all.
        file_missing: bool,
    },
    /// A params entry naming another file (DVC's `- other.yaml: [keys]`).
    #[error(
        "params from another file ('{file}') are not supported; list dotted keys of {params_file}"
    )]
    OtherParamsFile {
        /// The other file named.
        file: String,
        /// The params file in use.
        params_file: String,
    },
    /// A params file whose top level is not a map.
    #[error("the params file must be a map of names to values at its top level; found {found}")]
    ParamsNotMap {
        /// What was found.
        found: &'static str,
    },
    /// An out `kind` that is not a declarable kind.
    #[error("unknown kind '{kind}'; expected one of dataset, features, model, report, file")]
    UnknownKind {
        /// The kind written.
        kind: String,
    },
    /// A stage name with characters that would make it ambiguous on the command line.
    #[error(
        "stage name '{name}' is not valid; use letters, digits, '_', '-' and '.' ('@' is added by foreach and matrix)"
    )]
    BadStageName {
        /// The name written.
        name: String,
    },
    /// Two stages with the same (expanded) name.
    #[error(
        "stage '{name}' is defined twice (first at line {first_line}); stage names must be unique"
    )]
    DuplicateStage {
        /// The name.
        name: String,
        /// Line of the first definition.
        first_line: u32,
    },
    /// The same dep, param or out listed twice in one stage.
    #[error("{what} '{value}' is listed twice (first at line {first_line}); list it once")]
    DuplicateEntry {
        /// `dep`, `param` or `out`.
        what: &'static str,
        /// The entry.
        value: String,
        /// Line of the first listing.
        first_line: u32,
    },
    /// `foreach` without `do`.
    #[error("'foreach' needs a 'do' map holding the stage to repeat")]
    ForeachWithoutDo,
    /// `do` without `foreach`.
    #[error("'do' is only valid together with 'foreach'")]
    DoWithoutForeach,
    /// `foreach` and `matrix` in one stage.
    #[error("'foreach' and 'matrix' cannot be combined; use one of them")]
    ForeachAndMatrix,
    /// A stage body beside `foreach`/`do`.
    #[error("key '{key}' must go inside 'do' when 'foreach' is used")]
    KeyBesideDo {
        /// The misplaced key.
        key: String,
    },
    /// `foreach` or a `matrix` axis with no items.
    #[error("'{what}' has no items; give a non-empty list or map")]
    EmptyLoop {
        /// `foreach` or `matrix.NAME`.
        what: String,
    },
    /// An environment variable name that a shell cannot export.
    #[error(
        "environment variable name '{name}' is not valid; use letters, digits and '_', not starting with a digit"
    )]
    BadEnvName {
        /// The name.
        name: String,
    },
    /// A variable defined both inline and in the params file (or twice inline).
    #[error("variable '{name}' is defined twice ({first} and {second}); rename one")]
    VarConflict {
        /// The dotted name.
        name: String,
        /// Where it was first defined.
        first: String,
        /// Where it is defined again.
        second: String,
    },
    /// A `vars` entry naming a file other than the params file.
    #[error(
        "vars from a file ('{file}') are not supported; write the values inline or in {params_file}"
    )]
    VarsFile {
        /// The file named.
        file: String,
        /// The params file in use.
        params_file: String,
    },
    /// A dependency cycle between stages.
    #[error("stages form a cycle: {}; remove one of these deps", .path.join(" -> "))]
    Cycle {
        /// The stage names along the cycle, the first repeated at the end.
        path: Vec<String>,
    },
    /// Two stages (or one stage twice) write the same path.
    #[error(
        "out '{path}' is also written by stage '{other_stage}' (line {other_line}); each path has one producing stage"
    )]
    DuplicateOut {
        /// The path.
        path: String,
        /// The other stage writing it.
        other_stage: String,
        /// Line of the other declaration.
        other_line: u32,
    },
    /// An out inside another out.
    #[error(
        "out '{path}' is inside out '{outer}' of stage '{outer_stage}' (line {outer_line}); outs must not overlap"
    )]
    NestedOut {
        /// The inner path.
        path: String,
        /// The enclosing out.
        outer: String,
        /// The stage declaring the enclosing out.
        outer_stage: String,
        /// Line of the enclosing out.
        outer_line: u32,
    },
    /// A dep that overlaps the stage's own out.
    #[error(
        "dep '{dep}' overlaps this stage's own out '{out}'; a stage cannot read what it writes"
    )]
    OwnOutAsDep {
        /// The dep.
        dep: String,
        /// The out it overlaps.
        out: String,
    },
    /// A dep that does not exist and that no stage writes.
    #[error(
        "dep '{path}' does not exist and no stage writes it; create it or add a stage that lists it in 'outs'"
    )]
    MissingDep {
        /// The dep path.
        path: String,
    },
}

fn suggest_key(suggestion: Option<&str>, valid: &[&str]) -> String {
    match suggestion {
        Some(s) => format!("did you mean '{s}'?"),
        None => format!("valid keys here are {}", valid.join(", ")),
    }
}

fn suggest_var(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("did you mean '${{{s}}}'?"),
        None => "variables come from 'vars', the params file, and 'item'/'key' inside foreach and matrix".to_string(),
    }
}

fn suggest_param(suggestion: Option<&str>, file_missing: bool) -> String {
    match (file_missing, suggestion) {
        (true, _) => " (the file does not exist)".to_string(),
        (false, Some(s)) => format!("; did you mean '{s}'?"),
        (false, None) => "; add it there or remove it from the stage".to_string(),
    }
}

/// Edit distance between two short strings, by characters: insertions, deletions,
/// substitutions and swaps of two neighbours (`evn` -> `env`) each cost one.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rows: two back (for swaps), previous, current.
    let mut two_back = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut two_back, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
/// Ties go to the earliest candidate.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = match len {
        0..=3 => 1,
        4..=6 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = edit_distance(word, candidate);
        if d <= limit && d < len.max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_nearest() {
        assert_eq!(edit_distance("dep", "deps"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("evn", "env"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(nearest("dep", ["cmd", "deps", "desc"]), Some("deps"));
        assert_eq!(nearest("ouds", ["cmd", "deps", "outs"]), Some("outs"));
        assert_eq!(nearest("zzzzzz", ["cmd", "deps", "outs"]), None);
    }

    #[test]
    fn location_display() {
        let e = SpecError::new(
            "slipway.yaml",
            7,
            SpecProblem::UnknownKey {
                key: "dep".into(),
                suggestion: Some("deps".into()),
                valid: &["deps"],
            },
        )
        .in_stage("train");
        assert_eq!(
            e.to_string(),
            "slipway.yaml:7: stage 'train': unknown key 'dep'; did you mean 'deps'?"
        );
        let e = SpecError::new("slipway.yaml", 3, SpecProblem::EmptyCommand)
            .in_stage("a")
            .in_field("cmd");
        assert_eq!(
            e.to_string(),
            "slipway.yaml:3: stage 'a': cmd: command is empty; give at least one non-empty line"
        );
    }
}
