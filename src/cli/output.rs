//! `--format text|csv|json`: one way for every command that prints data.
//!
//! Text is for people. For programs, a listing is CSV with a header row,
//! or a JSON array with one object per row under the same names; a single
//! thing (a dataset's schema, a code list, a release) is CSV of its rows
//! (columns, codes, cells) or one JSON object. Times are RFC 3339 UTC in
//! both. In CSV a list is joined with `;` and an absent value is empty; in
//! JSON they stay a list and `null`. The shapes are documented in the
//! README ("Output formats").

use serde_json::{Map, Value};

/// How a command prints what it got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Text,
    /// CSV with a header row.
    Csv,
    /// JSON.
    Json,
}

/// The `--format` flag.
#[derive(Clone, Copy, Debug, clap::Args)]
pub(super) struct FormatArg {
    /// Output format: text for people, csv or json for programs.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Something a command prints, in each format.
pub(super) trait Output {
    /// The text for people.
    fn text(&self) -> String;
    /// The rows of the CSV form, each an object with the keys of
    /// `columns()` (missing keys are empty).
    fn rows(&self) -> Vec<Map<String, Value>>;
    /// The CSV columns, in order.
    fn columns(&self) -> &'static [&'static str];
    /// The JSON form: by default the rows as an array.
    fn json(&self) -> Value {
        Value::Array(self.rows().into_iter().map(Value::Object).collect())
    }
}

/// Renders `what` in `format`.
pub(super) fn render(what: &impl Output, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Text => what.text(),
        Format::Csv => csv(what.columns(), &what.rows())?,
        Format::Json => format!("{:#}\n", what.json()),
    })
}

/// Prints `what` in `format` to standard output.
pub(super) fn print(what: &impl Output, format: Format) -> anyhow::Result<()> {
    write_out(&render(what, format)?)
}

/// Writes `text` to standard output; a closed pipe (`ddc … | head`) is an
/// error [`crate::cli::closed_pipe`] recognises, not a panic.
pub(super) fn write_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    Ok(out.flush()?)
}

/// CSV of `rows` under `columns`.
pub(super) fn csv(columns: &[&str], rows: &[Map<String, Value>]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)?;
    for row in rows {
        w.write_record(csv_record(columns, row))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// One row's fields under `columns`.
pub(super) fn csv_record(columns: &[&str], row: &Map<String, Value>) -> Vec<String> {
    columns
        .iter()
        .map(|c| row.get(*c).map(field).unwrap_or_default())
        .collect()
}

/// A JSON value as one CSV field.
fn field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            items.iter().map(field).collect::<Vec<_>>().join(";")
        }
        other @ (Value::Array(_) | Value::Object(_)) => other.to_string(),
        other => other.to_string(),
    }
}

/// Builds a row from `(key, value)` pairs.
pub(super) fn row<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `ms` since the epoch as RFC 3339 UTC (`2026-12-02T20:31:43.120Z`);
/// `null` for 0 (never).
pub(super) fn time(ms: i64) -> Value {
    if ms <= 0 {
        return Value::Null;
    }
    let text = super::time::utc(ms as u64);
    let (date, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let clock = rest.trim_end_matches(" UTC");
    Value::String(format!("{date}T{clock}.{:03}Z", ms % 1000))
}

/// A string, `null` when empty.
pub(super) fn text_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Two;
    impl Output for Two {
        fn text(&self) -> String {
            "two rows\n".into()
        }
        fn columns(&self) -> &'static [&'static str] {
            &["name", "tags", "at", "extra"]
        }
        fn rows(&self) -> Vec<Map<String, Value>> {
            vec![
                row([
                    ("name", json!("a, \"quoted\"")),
                    ("tags", json!(["x", "y"])),
                    ("at", time(1_709_210_096_789)),
                    ("extra", json!({"k": 1})),
                ]),
                row([("name", json!("b")), ("tags", json!([])), ("at", time(0))]),
            ]
        }
    }

    #[test]
    fn each_format_carries_the_same_rows() {
        assert_eq!(render(&Two, Format::Text).unwrap(), "two rows\n");
        assert_eq!(
            render(&Two, Format::Csv).unwrap(),
            "name,tags,at,extra\n\"a, \"\"quoted\"\"\",x;y,2024-02-29T12:34:56.789Z,\"{\"\"k\"\":1}\"\nb,,,\n"
        );
        let v: Value = serde_json::from_str(&render(&Two, Format::Json).unwrap()).unwrap();
        assert_eq!(v[0]["tags"], json!(["x", "y"]));
        assert_eq!(v[0]["at"], json!("2024-02-29T12:34:56.789Z"));
        assert_eq!(v[1]["at"], Value::Null);
        assert_eq!(v.as_array().unwrap().len(), 2);
    }
}
