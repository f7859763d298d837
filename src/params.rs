//! Typed, span-aware reading of TOML. The whole document is parsed into a tree in which every
//! value keeps its byte span, and each table is read through [`Params`], which remembers which
//! keys were read: an error can always name the key, the line and the column, and a key nobody
//! read (a typo) is an error rather than a silently ignored setting.

use crate::time::{Nanos, parse_duration};
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// A TOML value with the spans of everything inside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

/// A value and where it is in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Range<usize>,
    /// Where its key is, for a table entry read from the file: an unknown key is reported
    /// there, a bad value at the value.
    pub key_span: Option<Range<usize>>,
}

/// Strings with where each is in the file.
pub type SpannedStrings = Vec<(String, Range<usize>)>;

/// A table's entries in file order.
pub type Table = Vec<(String, Node)>;

impl Value {
    pub fn type_str(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Table(_) => "table",
        }
    }

    /// A short rendering for error messages.
    fn show(&self) -> String {
        match self {
            Value::String(s) => format!("\"{s}\""),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Datetime(d) => d.clone(),
            Value::Array(_) => "[...]".into(),
            Value::Table(_) => "{...}".into(),
        }
    }
}

fn convert(v: &DeValue<'_>, span: Range<usize>) -> Result<Node, ParamError> {
    let bad_number = |text: &str| ParamError {
        key: String::new(),
        span: Some(span.clone()),
        message: format!("`{text}` is not a number portsim can read"),
    };
    let value = match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            // The decoder may or may not keep the two-character prefix (`0x`, `0o`, `0b`):
            // strip exactly that prefix, never a set of characters, which would also eat the
            // leading `b` and `0` digits of `0xb00`.
            let text = i.as_str().replace('_', "");
            let digits = match i.radix() {
                16 => text.strip_prefix("0x").unwrap_or(&text),
                8 => text.strip_prefix("0o").unwrap_or(&text),
                2 => text.strip_prefix("0b").unwrap_or(&text),
                _ => &text,
            };
            let parsed =
                if i.radix() == 10 { digits.parse::<i64>() } else { i64::from_str_radix(digits, i.radix()) };
            Value::Integer(parsed.map_err(|_| bad_number(i.as_str()))?)
        }
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            Value::Float(text.parse::<f64>().map_err(|_| bad_number(f.as_str()))?)
        }
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(a) => {
            Value::Array(a.iter().map(|item| convert(item.get_ref(), item.span())).collect::<Result<_, _>>()?)
        }
        DeValue::Table(t) => Value::Table(convert_table(t)?),
    };
    Ok(Node { value, span, key_span: None })
}

fn convert_table(t: &DeTable<'_>) -> Result<Table, ParamError> {
    t.iter()
        .map(|(k, v)| {
            let mut node = convert(v.get_ref(), v.span())?;
            node.key_span = Some(k.span());
            Ok((k.get_ref().to_string(), node))
        })
        .collect()
}

/// Sets the value at a dotted path (`workload.arrivals.rate`, `strategies[1].table_length`) in a
/// parsed document, creating tables on the way. `portsim sweep` varies a scenario this way,
/// before validation, so a swept value is checked exactly like one written in the file.
pub fn set_path(table: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, index) = match head.split_once('[') {
        Some((k, i)) => {
            let i = i
                .strip_suffix(']')
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| format!("`{head}` is not a key: write key[index]"))?;
            (k, Some(i))
        }
        None => (head, None),
    };
    if key.is_empty() {
        return Err(format!("`{path}` is not a dotted key such as workload.arrivals.rate"));
    }
    let pos = match table.iter().position(|(k, _)| k == key) {
        Some(pos) => pos,
        None => {
            if index.is_some() {
                return Err(format!("`{key}` is not in the scenario, so `{head}` cannot be set"));
            }
            let fresh = if rest.is_some() { Value::Table(Table::new()) } else { value.clone() };
            table.push((key.to_string(), Node { value: fresh, span: 0..0, key_span: None }));
            table.len() - 1
        }
    };
    let mut node = &mut table[pos].1;
    if let Some(i) = index {
        node = match &mut node.value {
            Value::Array(items) => {
                let len = items.len();
                items
                    .get_mut(i)
                    .ok_or_else(|| format!("`{key}` has {len} entries: `{head}` is past the end"))?
            }
            _ => return Err(format!("`{key}` is not an array")),
        };
    }
    match rest {
        None => {
            node.value = value;
            Ok(())
        }
        Some(rest) => match &mut node.value {
            Value::Table(t) => set_path(t, rest, value),
            _ => Err(format!("`{head}` is not a table, so `{path}` cannot be set")),
        },
    }
}

/// A bad value, with the dotted key it belongs to and where it is in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub key: String,
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ParamError {}

/// Reads the keys of one table, remembering which were read.
#[derive(Debug)]
pub struct Params {
    prefix: String,
    span: Option<Range<usize>>,
    entries: Vec<(String, Node, bool)>,
}

impl Params {
    /// `prefix` names the table in errors (`strategies[2]`, `workload.arrivals`); `span` is
    /// where the table is, for errors about a key that is missing.
    pub fn new(prefix: impl Into<String>, table: Table, span: Option<Range<usize>>) -> Params {
        Params {
            prefix: prefix.into(),
            span,
            entries: table.into_iter().map(|(k, v)| (k, v, false)).collect(),
        }
    }

    /// Parses a whole TOML document. A syntax error comes back with its span and the parser's
    /// own message (its first line).
    pub fn parse_document(text: &str) -> Result<Params, ParamError> {
        let doc = DeTable::parse(text).map_err(|e| ParamError {
            key: String::new(),
            span: e.span(),
            message: format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
        })?;
        let span = doc.span();
        Ok(Params::new("", convert_table(doc.get_ref())?, Some(span)))
    }

    /// The document's tree, to change (see [`set_path`]) before reading it.
    pub fn into_table(self) -> Table {
        self.entries.into_iter().map(|(k, v, _)| (k, v)).collect()
    }

    /// Parses a TOML snippet (`"table_length = 10"`) into params named `prefix`; for tests and
    /// examples.
    pub fn from_toml(prefix: &str, text: &str) -> Result<Params, ParamError> {
        let mut p = Params::parse_document(text)?;
        p.prefix = prefix.to_string();
        Ok(p)
    }

    /// Params with no keys: every parameter takes its default.
    pub fn empty(prefix: &str) -> Params {
        Params::new(prefix, Table::new(), None)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    /// The dotted name of `key` in this table.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}.{key}", self.prefix) }
    }

    /// An error about `key`, pointing at its value when the table has it, else at the table.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ParamError {
        let span = self
            .entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.span.clone())
            .or_else(|| self.span.clone());
        ParamError { key: self.path(key), span, message: message.into() }
    }

    /// An error about this table as a whole.
    pub fn table_error(&self, message: impl Into<String>) -> ParamError {
        ParamError { key: self.prefix.clone(), span: self.span.clone(), message: message.into() }
    }

    /// Takes the value of `key`, if present, and marks it read.
    pub fn take(&mut self, key: &str) -> Option<Node> {
        let (_, v, used) = self.entries.iter_mut().find(|(k, _, _)| k == key)?;
        *used = true;
        Some(v.clone())
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| k == key)
    }

    /// The keys of this table, in file order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|(k, _, _)| k.clone()).collect()
    }

    fn type_error(&self, key: &str, want: &str, got: &Value) -> ParamError {
        self.error(key, format!("expected {want}, found {} `{}`", got.type_str(), got.show()))
    }

    /// A sub-table, read with its own `Params`; `None` when absent.
    pub fn table(&mut self, key: &str) -> Result<Option<Params>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::Table(t), span, .. }) => {
                Ok(Some(Params::new(self.path(key), t, Some(span))))
            }
            Some(n) => Err(self.type_error(key, "a table", &n.value)),
        }
    }

    /// An array of tables (`[[destinations]]`), each read with its own `Params` named
    /// `key[i]`; `None` when absent.
    pub fn tables(&mut self, key: &str) -> Result<Option<Vec<Params>>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::Array(items), .. }) => items
                .into_iter()
                .enumerate()
                .map(|(i, n)| match n.value {
                    Value::Table(t) => Ok(Params::new(format!("{}[{i}]", self.path(key)), t, Some(n.span))),
                    other => Err(self.type_error(key, "an array of tables", &other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(n) => Err(self.type_error(key, "an array of tables", &n.value)),
        }
    }

    /// An array of strings, each with its span; `None` when absent.
    pub fn strings(&mut self, key: &str) -> Result<Option<SpannedStrings>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::Array(items), .. }) => items
                .into_iter()
                .map(|n| match n.value {
                    Value::String(s) => Ok((s, n.span)),
                    other => Err(self.type_error(key, "an array of strings", &other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(n) => Err(self.type_error(key, "an array of strings", &n.value)),
        }
    }

    /// A string value, or `None` when absent.
    pub fn string(&mut self, key: &str) -> Result<Option<String>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::String(s), .. }) => Ok(Some(s)),
            Some(n) => Err(self.type_error(key, "a string", &n.value)),
        }
    }

    /// A required string value.
    pub fn required_string(&mut self, key: &str) -> Result<String, ParamError> {
        self.string(key)?.ok_or_else(|| self.error(key, "is required but missing"))
    }

    /// An integer in `[min, max]`.
    pub fn u64_in(&mut self, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ParamError> {
        Ok(self.opt_u64_in(key, min, max)?.unwrap_or(default))
    }

    /// An integer in `[min, max]`, or `None` when absent.
    pub fn opt_u64_in(&mut self, key: &str, min: u64, max: u64) -> Result<Option<u64>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::Integer(i), .. }) => {
                if i < 0 || (i as u64) < min || (i as u64) > max {
                    Err(self.error(key, format!("{i} is out of range: use {min} to {max}")))
                } else {
                    Ok(Some(i as u64))
                }
            }
            Some(n) => Err(self.type_error(key, "an integer", &n.value)),
        }
    }

    /// A number (integer or float), finite, in `[min, max]`; `None` when absent.
    pub fn f64_in(&mut self, key: &str, min: f64, max: f64) -> Result<Option<f64>, ParamError> {
        let x = match self.take(key) {
            None => return Ok(None),
            Some(Node { value: Value::Integer(i), .. }) => i as f64,
            Some(Node { value: Value::Float(f), .. }) => f,
            Some(n) => return Err(self.type_error(key, "a number", &n.value)),
        };
        if !x.is_finite() || x < min || x > max {
            return Err(self.error(key, format!("{x} is out of range: use {min} to {max}")));
        }
        Ok(Some(x))
    }

    /// A number that must be greater than zero (a rate, a weight): zero and negatives are errors.
    pub fn positive_f64(&mut self, key: &str) -> Result<Option<f64>, ParamError> {
        let x = match self.take(key) {
            None => return Ok(None),
            Some(Node { value: Value::Integer(i), .. }) => i as f64,
            Some(Node { value: Value::Float(f), .. }) => f,
            Some(n) => return Err(self.type_error(key, "a number", &n.value)),
        };
        if !x.is_finite() || x <= 0.0 {
            return Err(self.error(key, format!("must be greater than 0, got {x}")));
        }
        Ok(Some(x))
    }

    /// A required positive number.
    pub fn required_positive_f64(&mut self, key: &str) -> Result<f64, ParamError> {
        self.positive_f64(key)?.ok_or_else(|| self.error(key, "is required but missing"))
    }

    /// One of `options` (the first is the default).
    pub fn choice(&mut self, key: &str, options: &[&'static str]) -> Result<&'static str, ParamError> {
        match self.take(key) {
            None => Ok(options[0]),
            Some(n) => {
                let text = match &n.value {
                    Value::String(s) => s.clone(),
                    Value::Integer(i) => i.to_string(),
                    other => return Err(self.type_error(key, "a string", other)),
                };
                options
                    .iter()
                    .find(|o| **o == text)
                    .copied()
                    .ok_or_else(|| self.error(key, format!("`{text}` is not one of: {}", options.join(", "))))
            }
        }
    }

    /// A duration string (`"60s"`); `None` when absent.
    pub fn duration(&mut self, key: &str) -> Result<Option<Nanos>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::String(s), .. }) => {
                parse_duration(&s).map(Some).map_err(|e| self.error(key, e))
            }
            Some(n) => Err(self.type_error(key, "a duration string such as \"60s\"", &n.value)),
        }
    }

    /// A required duration longer than zero.
    pub fn required_positive_duration(&mut self, key: &str) -> Result<Nanos, ParamError> {
        match self.duration(key)? {
            None => Err(self.error(key, "is required but missing")),
            Some(0) => Err(self.error(key, "must be longer than 0")),
            Some(d) => Ok(d),
        }
    }

    /// A duration, or `"none"` (also the default): for periods that may be switched off.
    pub fn optional_period(&mut self, key: &str) -> Result<Option<Nanos>, ParamError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node { value: Value::String(s), .. }) if s == "none" => Ok(None),
            Some(Node { value: Value::String(s), .. }) => match parse_duration(&s) {
                Ok(0) => Err(self.error(key, "must be longer than 0 (or \"none\")")),
                Ok(d) => Ok(Some(d)),
                Err(e) => Err(self.error(key, e)),
            },
            Some(n) => Err(self.type_error(key, "\"none\" or a duration such as \"10s\"", &n.value)),
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
                span: Some(v.key_span.clone().unwrap_or_else(|| v.span.clone())),
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
        assert_eq!(e.span, Some(18..23), "the key, not its value");
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let mut p = Params::from_toml("w", "rate = -1\nn = \"x\"\nk = 0\nd = \"soon\"\nh = 0x1f").unwrap();
        assert_eq!(p.positive_f64("rate").unwrap_err().message, "must be greater than 0, got -1");
        assert_eq!(p.u64_in("n", 1, 1, 5).unwrap_err().message, "expected an integer, found string `\"x\"`");
        assert_eq!(p.u64_in("k", 1, 1, 5).unwrap_err().message, "0 is out of range: use 1 to 5");
        assert!(p.duration("d").unwrap_err().message.contains("not a duration"));
        assert_eq!(p.u64_in("h", 0, 0, 100).unwrap(), 31);
    }

    /// Every integer form TOML 1.0 allows, read to the value the spec gives it.
    #[test]
    fn every_toml_integer_form_reads_exactly() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("42", 42),
            ("+99", 99),
            ("-17", -17),
            ("1_000", 1000),
            ("5_349_221", 5_349_221),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("0xb00", 0xb00),
            ("0xbad", 0xbad),
            ("0x00b", 0xb),
            ("0xDEADBEEF", 0xdead_beef),
            ("0xdead_beef", 0xdead_beef),
            ("0x0", 0),
            ("0x7fffffffffffffff", i64::MAX),
            ("0o0", 0),
            ("0o01234567", 0o1234567),
            ("0o755", 0o755),
            ("0b0", 0),
            ("0b1", 1),
            ("0b0011", 3),
            ("0b1101_0110", 0b1101_0110),
        ];
        for (text, want) in cases {
            let mut p = Params::from_toml("t", &format!("v = {text}")).unwrap();
            assert_eq!(p.take("v").unwrap().value, Value::Integer(*want), "{text}");
        }
        let e = Params::from_toml("t", "v = 0x8000000000000000").unwrap_err();
        assert!(e.message.contains("not a number portsim can read"), "{}", e.message);
    }

    #[test]
    fn nested_tables_and_arrays_keep_their_names_and_spans() {
        let text =
            "[w]\narrivals = { process = \"poisson\", rate = 1 }\n[[s]]\nname = \"a\"\n[[s]]\nname = 3\n";
        let mut doc = Params::parse_document(text).unwrap();
        let mut w = doc.table("w").unwrap().unwrap();
        let mut a = w.table("arrivals").unwrap().unwrap();
        assert_eq!(a.prefix(), "w.arrivals");
        assert_eq!(a.required_string("process").unwrap(), "poisson");
        let mut s = doc.tables("s").unwrap().unwrap();
        assert_eq!(s[0].required_string("name").unwrap(), "a");
        let e = s[1].required_string("name").unwrap_err();
        assert_eq!(e.key, "s[1].name");
        assert_eq!(&text[e.span.unwrap()], "3");
    }

    #[test]
    fn set_path_reaches_nested_tables_and_array_entries() {
        let doc = Params::parse_document("[w]\na = { rate = 1 }\n[[s]]\nn = 1\n").unwrap();
        let mut t = doc.into_table();
        set_path(&mut t, "w.a.rate", Value::Float(2.5)).unwrap();
        set_path(&mut t, "s[0].n", Value::Integer(7)).unwrap();
        set_path(&mut t, "x.y", Value::String("new".into())).unwrap();
        assert!(set_path(&mut t, "s[3].n", Value::Integer(1)).unwrap_err().contains("past the end"));
        assert!(set_path(&mut t, "w.a.rate.z", Value::Integer(1)).unwrap_err().contains("not a table"));
        let mut p = Params::new("", t, None);
        let mut w = p.table("w").unwrap().unwrap();
        assert_eq!(w.table("a").unwrap().unwrap().f64_in("rate", 0.0, 10.0).unwrap(), Some(2.5));
        assert_eq!(p.tables("s").unwrap().unwrap()[0].u64_in("n", 0, 0, 9).unwrap(), 7);
        assert_eq!(p.table("x").unwrap().unwrap().string("y").unwrap().as_deref(), Some("new"));
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let e = Params::parse_document("a = 1\nb = = 2\n").unwrap_err();
        assert!(e.message.starts_with("invalid TOML"), "{}", e.message);
        assert_eq!(e.span.map(|s| s.start), Some(10));
    }
}
