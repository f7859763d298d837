//! Typed, span-aware reading of a TOML table whose keys are not known to serde up front: a
//! strategy's parameters, an arrival process, a lifetime distribution. Every value keeps its
//! byte span, so an error can name the key, the line and the column; every key must be read,
//! so a typo is an error rather than a silently ignored setting.

use crate::time::{Nanos, parse_duration};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// A TOML table as read with spans.
pub type RawTable = BTreeMap<String, Spanned<toml::Value>>;

/// A bad value, with the dotted key it belongs to and where it is in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub key: String,
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Reads the keys of one table, remembering which were read.
#[derive(Debug)]
pub struct Params {
    prefix: String,
    span: Option<Range<usize>>,
    entries: Vec<(String, Spanned<toml::Value>, bool)>,
}

impl Params {
    /// `prefix` names the table in errors (`strategies[2]`, `workload.arrivals`); `span` is
    /// where the table is, for errors about a key that is missing.
    pub fn new(prefix: impl Into<String>, table: RawTable, span: Option<Range<usize>>) -> Params {
        Params {
            prefix: prefix.into(),
            span,
            entries: table.into_iter().map(|(k, v)| (k, v, false)).collect(),
        }
    }

    /// Parses a TOML snippet (`"table_length = 10"`) into params; for tests and examples.
    pub fn from_toml(prefix: &str, text: &str) -> Result<Params, toml::de::Error> {
        let table: RawTable = toml::from_str(text)?;
        Ok(Params::new(prefix, table, None))
    }

    /// Params with no keys: every parameter takes its default.
    pub fn empty(prefix: &str) -> Params {
        Params::new(prefix, RawTable::new(), None)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The dotted name of `key` in this table.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// An error about `key`, pointing at its value when the table has it.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ParamError {
        let span = self
            .entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.span())
            .or_else(|| self.span.clone());
        ParamError {
            key: self.path(key),
            span,
            message: message.into(),
        }
    }

    /// Takes the value of `key`, if present, and marks it read.
    pub fn take(&mut self, key: &str) -> Option<(toml::Value, Range<usize>)> {
        let (_, v, used) = self.entries.iter_mut().find(|(k, _, _)| k == key)?;
        *used = true;
        Some((v.get_ref().clone(), v.span()))
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| k == key)
    }

    fn type_error(&self, key: &str, want: &str, got: &toml::Value) -> ParamError {
        self.error(
            key,
            format!("expected {want}, found {} `{got}`", got.type_str()),
        )
    }

    /// A string value, or `None` when absent.
    pub fn string(&mut self, key: &str) -> Result<Option<String>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some((toml::Value::String(s), _)) => Ok(Some(s)),
            Some((v, _)) => Err(self.type_error(key, "a string", &v)),
        }
    }

    /// A required string value.
    pub fn required_string(&mut self, key: &str) -> Result<String, ParamError> {
        self.string(key)?
            .ok_or_else(|| self.error(key, "is required but missing"))
    }

    /// An integer in `[min, max]`.
    pub fn u64_in(
        &mut self,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ParamError> {
        match self.take(key) {
            None => Ok(default),
            Some((toml::Value::Integer(i), _)) => {
                if i < 0 || (i as u64) < min || (i as u64) > max {
                    Err(self.error(key, format!("{i} is out of range: use {min} to {max}")))
                } else {
                    Ok(i as u64)
                }
            }
            Some((v, _)) => Err(self.type_error(key, "an integer", &v)),
        }
    }

    /// A number (integer or float), finite, in `[min, max]`; `None` when absent.
    pub fn f64_in(&mut self, key: &str, min: f64, max: f64) -> Result<Option<f64>, ParamError> {
        let x = match self.take(key) {
            None => return Ok(None),
            Some((toml::Value::Integer(i), _)) => i as f64,
            Some((toml::Value::Float(f), _)) => f,
            Some((v, _)) => return Err(self.type_error(key, "a number", &v)),
        };
        if !x.is_finite() || x < min || x > max {
            return Err(self.error(key, format!("{x} is out of range: use {min} to {max}")));
        }
        Ok(Some(x))
    }

    /// A number that must be greater than zero (a rate, a mean): zero and negatives are errors.
    pub fn positive_f64(&mut self, key: &str) -> Result<Option<f64>, ParamError> {
        let x = match self.take(key) {
            None => return Ok(None),
            Some((toml::Value::Integer(i), _)) => i as f64,
            Some((toml::Value::Float(f), _)) => f,
            Some((v, _)) => return Err(self.type_error(key, "a number", &v)),
        };
        if !x.is_finite() || x <= 0.0 {
            return Err(self.error(key, format!("must be greater than 0, got {x}")));
        }
        Ok(Some(x))
    }

    /// One of `options` (the first is the default).
    pub fn choice(
        &mut self,
        key: &str,
        options: &[&'static str],
    ) -> Result<&'static str, ParamError> {
        match self.take(key) {
            None => Ok(options[0]),
            Some((v, _)) => {
                let text = match &v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    _ => return Err(self.type_error(key, "a string", &v)),
                };
                options
                    .iter()
                    .find(|o| **o == text)
                    .copied()
                    .ok_or_else(|| {
                        self.error(
                            key,
                            format!("`{text}` is not one of: {}", options.join(", ")),
                        )
                    })
            }
        }
    }

    /// A duration string (`"60s"`); `None` when absent.
    pub fn duration(&mut self, key: &str) -> Result<Option<Nanos>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some((toml::Value::String(s), _)) => {
                parse_duration(&s).map(Some).map_err(|e| self.error(key, e))
            }
            Some((v, _)) => Err(self.type_error(key, "a duration string such as \"60s\"", &v)),
        }
    }

    /// A duration, or `"none"` (also the default): for periods that may be switched off.
    pub fn optional_period(&mut self, key: &str) -> Result<Option<Nanos>, ParamError> {
        match self.take(key) {
            Some((toml::Value::String(s), _)) if s == "none" => Ok(None),
            Some((toml::Value::String(s), _)) => match parse_duration(&s) {
                Ok(0) => Err(self.error(key, "must be longer than 0 (or \"none\")")),
                Ok(d) => Ok(Some(d)),
                Err(e) => Err(self.error(key, e)),
            },
            Some((v, _)) => Err(self.type_error(key, "\"none\" or a duration such as \"10s\"", &v)),
            None => Ok(None),
        }
    }

    /// Fails on the first key nobody read, listing the keys this table accepts.
    pub fn finish(self, valid: &[&str]) -> Result<(), ParamError> {
        if let Some((k, v, _)) = self.entries.iter().find(|(_, _, used)| !used) {
            let hint = if valid.is_empty() {
                "this table takes no keys".to_string()
            } else {
                format!("valid keys: {}", valid.join(", "))
            };
            return Err(ParamError {
                key: self.path(k),
                span: Some(v.span()),
                message: format!("unknown key `{k}` ({hint})"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_values_and_rejects_unknown_keys() {
        let mut p = Params::from_toml("strategies[0]", "n = 10\nmode = \"a\"\nbogus = 1").unwrap();
        assert_eq!(p.u64_in("n", 1, 1, 100).unwrap(), 10);
        assert_eq!(p.choice("mode", &["a", "b"]).unwrap(), "a");
        assert_eq!(p.u64_in("absent", 7, 1, 100).unwrap(), 7);
        let e = p.finish(&["n", "mode"]).unwrap_err();
        assert_eq!(e.key, "strategies[0].bogus");
        assert_eq!(e.message, "unknown key `bogus` (valid keys: n, mode)");
        assert!(e.span.is_some());
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let mut p = Params::from_toml("w", "rate = -1\nn = \"x\"\nk = 0\nd = \"soon\"").unwrap();
        assert_eq!(
            p.positive_f64("rate").unwrap_err().message,
            "must be greater than 0, got -1"
        );
        assert_eq!(
            p.u64_in("n", 1, 1, 5).unwrap_err().message,
            "expected an integer, found string `\"x\"`"
        );
        assert_eq!(
            p.u64_in("k", 1, 1, 5).unwrap_err().message,
            "0 is out of range: use 1 to 5"
        );
        assert!(
            p.duration("d")
                .unwrap_err()
                .message
                .contains("not a duration")
        );
    }
}
