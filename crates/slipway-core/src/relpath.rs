//! Relative paths that provably stay inside a root: used for manifest entries, pipeline outputs
//! and artifact paths received over the network.

use std::fmt;

/// A normalised, relative, `/`-separated path that cannot escape its root.
///
/// Valid: non-empty, no leading `/`, no `.`/`..`/empty components, no backslash, no NUL, no
/// control characters, no Windows drive prefix. Construction is the only validation point, so a
/// `RelPath` in hand is always safe to join onto a root directory.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

/// Why a path is not an acceptable relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelPathError {
    /// The path is empty.
    #[error("path is empty; expected a relative path such as `data/raw.csv`")]
    Empty,
    /// The path is absolute.
    #[error("path `{0}` is absolute; expected a path relative to the project root")]
    Absolute(String),
    /// The path contains `..` and would escape the root.
    #[error("path `{0}` contains `..` and would escape the project root")]
    ParentComponent(String),
    /// The path contains a `.` or empty component (not normalised).
    #[error("path `{0}` is not normalised (`.` or empty component); write it without `./` or `//`")]
    NotNormalised(String),
    /// The path contains a character that is never valid in a stored path.
    #[error("path `{path}` contains {what}, which is not allowed in a stored path")]
    BadCharacter {
        /// The offending path (with the character escaped).
        path: String,
        /// What was found.
        what: &'static str,
    },
}

impl RelPath {
    /// Validates `text` as a relative path. Trailing slashes are tolerated and removed.
    pub fn new(text: &str) -> Result<RelPath, RelPathError> {
        let trimmed = text.trim_end_matches('/');
        if text.is_empty() {
            return Err(RelPathError::Empty);
        }
        let shown = || text.escape_debug().to_string();
        if text.contains('\0') {
            return Err(RelPathError::BadCharacter {
                path: shown(),
                what: "a NUL byte",
            });
        }
        if text.contains('\\') {
            return Err(RelPathError::BadCharacter {
                path: shown(),
                what: "a backslash",
            });
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(RelPathError::BadCharacter {
                path: shown(),
                what: "a control character",
            });
        }
        if text.starts_with('/') || is_drive_prefixed(text) {
            return Err(RelPathError::Absolute(shown()));
        }
        for component in trimmed.split('/') {
            match component {
                ".." => return Err(RelPathError::ParentComponent(shown())),
                "" | "." => return Err(RelPathError::NotNormalised(shown())),
                _ => {}
            }
        }
        Ok(RelPath(trimmed.to_string()))
    }

    /// Joins two relative paths (`self/child`).
    pub fn join(&self, child: &RelPath) -> RelPath {
        RelPath(format!("{}/{}", self.0, child.0))
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` equals `other` or lies inside it (component-wise, so `ab` is not inside `a`).
    pub fn is_within(&self, other: &RelPath) -> bool {
        self.0 == other.0
            || (self.0.len() > other.0.len()
                && self.0.starts_with(&other.0)
                && self.0.as_bytes()[other.0.len()] == b'/')
    }

    /// The components of the path.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn is_drive_prefixed(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelPath({:?})", self.0)
    }
}

impl AsRef<str> for RelPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for RelPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RelPath, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RelPath::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_normal_paths() {
        assert_eq!(RelPath::new("a/b.csv").unwrap().as_str(), "a/b.csv");
        assert_eq!(RelPath::new("data/").unwrap().as_str(), "data");
        assert_eq!(RelPath::new("..data").unwrap().as_str(), "..data");
    }

    #[test]
    fn rejects_escapes_and_oddities() {
        for bad in [
            "",
            "/",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "./a",
            "a//b",
            "a/./b",
            "a\\b",
            "..\\x",
            "C:/x",
            "c:x",
            "a\0b",
            "a\nb",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn within_is_component_wise() {
        let a = RelPath::new("data/raw").unwrap();
        assert!(RelPath::new("data/raw/x.csv").unwrap().is_within(&a));
        assert!(a.is_within(&a));
        assert!(!RelPath::new("data/rawer").unwrap().is_within(&a));
        assert!(!RelPath::new("data").unwrap().is_within(&a));
    }
}
