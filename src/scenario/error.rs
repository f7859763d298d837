//! Scenario errors that say where: the file, the line, the column and the dotted key.

use crate::params::ParamError;
use std::fmt;

/// A scenario that cannot be run, and exactly why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `<built-in quickstart>`).
    pub origin: String,
    /// 1-based line and column, when the error points at a place in the file.
    pub position: Option<(usize, usize)>,
    /// The dotted key (`ports.range`, `strategies[1].table_length`), when there is one.
    pub key: String,
    pub message: String,
}

impl ScenarioError {
    pub fn from_param(origin: &str, source: &str, e: ParamError) -> ScenarioError {
        ScenarioError {
            origin: origin.to_string(),
            position: e.span.map(|s| line_col(source, s.start)),
            key: e.key,
            message: e.message,
        }
    }

    /// An error about the file as a whole (it cannot be read, say).
    pub fn whole(origin: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            origin: origin.to_string(),
            position: None,
            key: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of byte offset `at`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let at = at.min(source.len());
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, source[line_start..at].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
        let e = ScenarioError {
            origin: "x.toml".into(),
            position: Some((2, 6)),
            key: "bb".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "x.toml:2:6: bb: bad");
    }
}
