//! Turning paths written in a stage (relative to its `wdir`) into project-relative paths.

use super::error::SpecProblem;
use crate::RelPath;

/// Resolves `text`, written relative to `wdir` (the project root when `None`), into a normalised
/// project-relative path. `.` and empty components are dropped, `..` is applied, and a path that
/// is absolute, climbs above the root, or names the root itself is refused.
pub(crate) fn resolve(wdir: Option<&RelPath>, text: &str) -> Result<RelPath, SpecProblem> {
    if text.is_empty() {
        return Err(SpecProblem::InvalidPath {
            error: crate::RelPathError::Empty,
        });
    }
    let bytes = text.as_bytes();
    if text.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
    {
        return Err(SpecProblem::AbsolutePath {
            path: text.to_string(),
        });
    }
    let mut parts: Vec<&str> = wdir.map(|w| w.components().collect()).unwrap_or_default();
    for component in text.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(SpecProblem::EscapingPath {
                        path: text.to_string(),
                    });
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(SpecProblem::RootPath {
            path: text.to_string(),
        });
    }
    RelPath::new(&parts.join("/")).map_err(|error| SpecProblem::InvalidPath { error })
}

/// Resolves a `wdir` value: like [`resolve`] from the root, except that `.` (the root) is allowed
/// and gives `None`.
pub(crate) fn resolve_wdir(text: &str) -> Result<Option<RelPath>, SpecProblem> {
    match resolve(None, text) {
        Ok(path) => Ok(Some(path)),
        Err(SpecProblem::RootPath { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn resolves_against_wdir() {
        assert_eq!(resolve(None, "data/raw/").unwrap(), rp("data/raw"));
        assert_eq!(resolve(None, "./a//b/./c").unwrap(), rp("a/b/c"));
        assert_eq!(resolve(Some(&rp("sub")), "x.csv").unwrap(), rp("sub/x.csv"));
        assert_eq!(
            resolve(Some(&rp("sub/dir")), "../data").unwrap(),
            rp("sub/data")
        );
        assert_eq!(resolve(Some(&rp("sub")), "../data").unwrap(), rp("data"));
    }

    #[test]
    fn refuses_escapes() {
        assert!(matches!(
            resolve(None, "../x"),
            Err(SpecProblem::EscapingPath { .. })
        ));
        assert!(matches!(
            resolve(Some(&rp("sub")), "../../x"),
            Err(SpecProblem::EscapingPath { .. })
        ));
        assert!(matches!(
            resolve(None, "/etc/passwd"),
            Err(SpecProblem::AbsolutePath { .. })
        ));
        assert!(matches!(
            resolve(None, "C:/x"),
            Err(SpecProblem::AbsolutePath { .. })
        ));
        assert!(matches!(
            resolve(None, "."),
            Err(SpecProblem::RootPath { .. })
        ));
        assert!(matches!(
            resolve(Some(&rp("a")), ".."),
            Err(SpecProblem::RootPath { .. })
        ));
        assert!(matches!(
            resolve(None, "a\\b"),
            Err(SpecProblem::InvalidPath { .. })
        ));
        assert_eq!(resolve_wdir(".").unwrap(), None);
        assert_eq!(resolve_wdir("sub/").unwrap(), Some(rp("sub")));
    }
}
