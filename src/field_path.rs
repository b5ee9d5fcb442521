//! Paths to the field at fault in a refused request or upload, in the style
//! of AIP-193: `filters[0].values[2]`, `schema.columns[3].name`,
//! `rows[12].birth_year`, `header.birth_year`.
//!
//! A path is built from proto field names, declared column names and
//! positions only, never from a value the caller typed; that is why it is a
//! type with no constructor from an arbitrary string. Its one rendering,
//! [`Display`](std::fmt::Display), is what every `google.rpc.BadRequest`
//! field violation carries.
//!
//! Grammar (documented for clients in the README and the protos):
//! ```text
//! path    = segment *( "." segment )
//! segment = name *( "[" index "]" )
//! name    = lower-case letter *( lower-case letter / digit / "_" )
//! index   = 1*digit
//! ```
//! Indices into request fields count from 0, as in the request; `rows[N]`
//! counts data rows from 1, as `RowProblem.row` does.

use std::fmt;

/// Where a problem is, as a machine-readable path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Name(String),
    Index(u64),
}

impl FieldPath {
    /// A path starting at the request field (or upload part) `name`.
    pub fn new(name: &'static str) -> Self {
        FieldPath {
            segments: vec![Segment::Name(name.to_owned())],
        }
    }

    /// The sub-field `name` of this path (a proto field name).
    pub fn field(mut self, name: &'static str) -> Self {
        self.segments.push(Segment::Name(name.to_owned()));
        self
    }

    /// The declared column `column` under this path, e.g. `rows[3].niveau`.
    /// Only for names taken from a dataset's definition.
    pub fn column(mut self, column: &str) -> Self {
        self.segments.push(Segment::Name(column.to_owned()));
        self
    }

    /// Element `index` of this (repeated) field.
    pub fn index(mut self, index: impl TryInto<u64>) -> Self {
        let index = index.try_into().unwrap_or(u64::MAX);
        self.segments.push(Segment::Index(index));
        self
    }

    /// `rows[row].column`, or `rows[row]` for the row as a whole; row 0 is
    /// the header line: `header.column` or `header`.
    pub fn upload(row: u64, column: Option<&str>) -> Self {
        let path = match row {
            0 => FieldPath::new("header"),
            r => FieldPath::new("rows").index(r),
        };
        match column {
            Some(c) => path.column(c),
            None => path,
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Name(n) if i == 0 => f.write_str(n)?,
                Segment::Name(n) => write!(f, ".{n}")?,
                Segment::Index(x) => write!(f, "[{x}]")?,
            }
        }
        Ok(())
    }
}

impl PartialEq<&str> for FieldPath {
    fn eq(&self, other: &&str) -> bool {
        // Compares the rendering piece by piece, without building it.
        struct Rest<'a>(Option<&'a str>);
        impl fmt::Write for Rest<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0 = self.0.and_then(|r| r.strip_prefix(s));
                Ok(())
            }
        }
        let mut rest = Rest(Some(other));
        fmt::Write::write_fmt(&mut rest, format_args!("{self}")).is_ok() && rest.0 == Some("")
    }
}

#[cfg(test)]
mod tests {
    use super::FieldPath;

    #[test]
    fn paths_render_as_aip_193_field_paths() {
        let p = FieldPath::new("filters").index(0).field("values").index(2);
        assert_eq!(p.to_string(), "filters[0].values[2]");
        assert_eq!(
            FieldPath::upload(12, Some("birth_year")),
            "rows[12].birth_year"
        );
        assert_eq!(FieldPath::upload(12, None), "rows[12]");
        assert_eq!(
            FieldPath::upload(0, Some("birth_year")),
            "header.birth_year"
        );
        assert_eq!(FieldPath::upload(0, None), "header");
    }
}
