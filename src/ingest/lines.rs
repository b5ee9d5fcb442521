//! Splitting an upload into lines and a line into CSV fields.
//!
//! ddc's values (identifiers, codes, numbers) never contain a line break,
//! so a line break always ends a row, quoted or not. That makes the parser
//! resynchronise at every line: a stray quote spoils its own row only,
//! instead of swallowing the rest of the file as one giant quoted field.
//! It also lets chunks arrive in any size, with no state carried between
//! lines but the unfinished tail.
//!
//! Fields follow RFC 4180 with `,` as separator: a field that starts with
//! `"` (after optional blanks) is quoted and `""` inside it stands for one
//! quote; a quote inside an unquoted field is kept as it is (as the `csv`
//! crate does). Fields are trimmed of ASCII whitespace.
//!
//! The data holder's client reads files with the same rules (see
//! [`crate::holder`]), so that it finds each row's identifier exactly
//! where the server will, under the same row numbers.

/// Longest line accepted, in bytes; a longer one is a rejected row.
pub const MAX_LINE: usize = 64 << 10;

/// Why a line is not valid CSV. Never carries the line's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineError {
    /// A quoted field does not end on its line; `field` counts from 0.
    UnterminatedQuote {
        /// The field at fault.
        field: usize,
    },
    /// Something other than a separator follows a closing quote.
    TextAfterQuote {
        /// The field at fault.
        field: usize,
    },
    /// The line is longer than [`MAX_LINE`].
    TooLong,
}

impl LineError {
    /// The field at fault, if one is.
    pub(crate) fn field(self) -> Option<usize> {
        match self {
            LineError::UnterminatedQuote { field } | LineError::TextAfterQuote { field } => {
                Some(field)
            }
            LineError::TooLong => None,
        }
    }

    /// Why, in words.
    pub(crate) fn reason(self) -> String {
        match self {
            LineError::UnterminatedQuote { .. } => {
                "quoted field not closed on its line (a row cannot span lines)".into()
            }
            LineError::TextAfterQuote { .. } => "text after the closing quote".into(),
            LineError::TooLong => format!("line longer than {MAX_LINE} bytes"),
        }
    }
}

/// The fields of one line, unquoted and trimmed.
#[derive(Debug)]
pub(crate) struct Record {
    /// The field separator (`,` unless the upload says otherwise).
    delimiter: u8,
    data: Vec<u8>,
    /// Where each field's content lies in `data`.
    fields: Vec<(usize, usize)>,
    /// Where each field stood in the line: from just after the separator
    /// before it to just before the separator after it (quotes and blanks
    /// included).
    spans: Vec<std::ops::Range<usize>>,
}

impl Default for Record {
    fn default() -> Self {
        Record::new(b',')
    }
}

impl Record {
    /// The field separator.
    pub(crate) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// A record of fields separated by `delimiter`.
    pub(crate) fn new(delimiter: u8) -> Self {
        Record {
            delimiter,
            data: Vec::new(),
            fields: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// The fields in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| &self[i])
    }

    /// Where field `i` stood in the line last parsed, separators excluded.
    pub(crate) fn span(&self, i: usize) -> std::ops::Range<usize> {
        self.spans[i].clone()
    }

    /// Splits `line` (without its line break) into fields.
    pub(crate) fn parse(&mut self, line: &[u8]) -> Result<(), LineError> {
        self.data.clear();
        self.fields.clear();
        self.spans.clear();
        if memchr::memchr(b'"', line).is_none() {
            self.unquoted(line);
            Ok(())
        } else {
            self.general(line)
        }
    }

    /// [`Self::parse`] for any line, field by field.
    fn general(&mut self, line: &[u8]) -> Result<(), LineError> {
        let mut rest = line;
        loop {
            let field = self.fields.len();
            let raw_start = line.len() - rest.len();
            let start = self.data.len();
            let blanks = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            rest = if rest.get(blanks) == Some(&b'"') {
                self.quoted(&rest[blanks + 1..], field)?
            } else {
                let end = memchr::memchr(self.delimiter, rest).unwrap_or(rest.len());
                self.data.extend_from_slice(&rest[..end]);
                &rest[end..]
            };
            let trimmed = self.data[start..].trim_ascii().len();
            let lead = self.data[start..].len() - self.data[start..].trim_ascii_start().len();
            self.data
                .copy_within(start + lead..start + lead + trimmed, start);
            self.data.truncate(start + trimmed);
            self.fields.push((start, self.data.len()));
            self.spans.push(raw_start..line.len() - rest.len());
            match rest.split_first() {
                None => return Ok(()),
                Some((&d, tail)) if d == self.delimiter => rest = tail,
                Some(_) => return Err(LineError::TextAfterQuote { field }),
            }
        }
    }

    /// [`Self::parse`] for a line without quotes, nearly every line: the
    /// line is copied once and each field is where it stands, trimmed.
    fn unquoted(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        let mut start = 0;
        let ends = memchr::memchr_iter(self.delimiter, line).chain([line.len()]);
        for end in ends {
            let raw = &line[start..end];
            let lead = raw.len() - raw.trim_ascii_start().len();
            let content = raw.trim_ascii().len();
            self.fields.push((start + lead, start + lead + content));
            self.spans.push(start..end);
            start = end + 1;
        }
    }

    /// Copies a quoted field's content; returns what follows the closing quote.
    fn quoted<'a>(&mut self, mut rest: &'a [u8], field: usize) -> Result<&'a [u8], LineError> {
        loop {
            let Some(q) = memchr::memchr(b'"', rest) else {
                return Err(LineError::UnterminatedQuote { field });
            };
            self.data.extend_from_slice(&rest[..q]);
            if rest.get(q + 1) == Some(&b'"') {
                self.data.push(b'"');
                rest = &rest[q + 2..];
            } else {
                let after = &rest[q + 1..];
                let blanks = after.iter().take_while(|b| b.is_ascii_whitespace()).count();
                return Ok(&after[blanks..]);
            }
        }
    }
}

impl std::ops::Index<usize> for Record {
    type Output = [u8];

    fn index(&self, i: usize) -> &[u8] {
        let (start, end) = self.fields[i];
        &self.data[start..end]
    }
}

/// Cuts a byte stream into lines, whatever the chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    tail: Vec<u8>,
    /// The unfinished line passed [`MAX_LINE`]; its bytes are dropped.
    overlong: bool,
}

/// One line of the stream, without its line break (and `\r`).
pub(crate) enum Line<'a> {
    /// A line within the length limit.
    Text(&'a [u8]),
    /// A line over [`MAX_LINE`] bytes.
    TooLong,
}

impl LineSplitter {
    /// Calls `each` for every line that `chunk` completes.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], mut each: impl FnMut(Line<'_>)) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let (line, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            if self.tail.is_empty() && !self.overlong {
                each(line_of(line));
            } else {
                self.push_tail(line);
                self.flush(&mut each);
            }
            chunk = rest;
        }
        self.push_tail(chunk);
    }

    /// The unfinished line so far, taken out (`None`, and nothing taken,
    /// while it is over [`MAX_LINE`]).
    pub(crate) fn take_tail(&mut self) -> Option<Vec<u8>> {
        (!self.overlong).then(|| std::mem::take(&mut self.tail))
    }

    /// Calls `each` for the last line if the stream does not end with a
    /// line break.
    pub(crate) fn finish(mut self, mut each: impl FnMut(Line<'_>)) {
        if !self.tail.is_empty() || self.overlong {
            self.flush(&mut each);
        }
    }

    fn push_tail(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.tail.len() + bytes.len() > MAX_LINE + 1 {
            self.overlong = true;
            self.tail = Vec::new();
        } else {
            self.tail.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self, each: &mut impl FnMut(Line<'_>)) {
        if std::mem::take(&mut self.overlong) {
            each(Line::TooLong);
        } else {
            each(line_of(&self.tail));
        }
        self.tail.clear();
    }
}

fn line_of(line: &[u8]) -> Line<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE {
        Line::TooLong
    } else {
        Line::Text(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Result<Vec<String>, LineError> {
        let mut r = Record::default();
        r.parse(line.as_bytes())?;
        Ok(r.iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect())
    }

    #[test]
    fn another_delimiter_splits_and_a_comma_is_then_text() {
        let mut r = Record::new(b';');
        r.parse(b"123;\"a;b\"; x,y ").unwrap();
        let got: Vec<&[u8]> = r.iter().collect();
        assert_eq!(got, [&b"123"[..], b"a;b", b"x,y"]);
        let mut tabs = Record::new(b'\t');
        tabs.parse(b"1\t2").unwrap();
        assert_eq!(tabs.len(), 2);
    }

    fn lines(chunks: &[&str]) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let mut push = |l: Line<'_>| {
            out.push(match l {
                Line::Text(t) => Some(String::from_utf8(t.to_vec()).unwrap()),
                Line::TooLong => None,
            })
        };
        let mut s = LineSplitter::default();
        for c in chunks {
            s.feed(c.as_bytes(), &mut push);
        }
        s.finish(&mut push);
        out
    }

    #[test]
    fn plain_quoted_and_trimmed_fields() {
        assert_eq!(fields("a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            fields(r#""a,b", "say ""hi""" ,"#).unwrap(),
            ["a,b", r#"say "hi""#, ""]
        );
        assert_eq!(fields("").unwrap(), [""]);
        assert_eq!(fields(r#"ab"c,d"#).unwrap(), [r#"ab"c"#, "d"]);
    }

    proptest::proptest! {
        /// Lines without quotes, read the quick way, are read as field by field.
        #[test]
        fn unquoted_lines_read_as_any_other(line in "[ a-z0-9,;\t-]{0,40}") {
            let (mut quick, mut general) = (Record::default(), Record::default());
            quick.parse(line.as_bytes()).unwrap();
            general.general(line.as_bytes()).unwrap();
            let fields = |r: &Record| -> Vec<Vec<u8>> { r.iter().map(<[u8]>::to_vec).collect() };
            proptest::prop_assert_eq!(fields(&quick), fields(&general));
            proptest::prop_assert_eq!(&quick.spans, &general.spans);
        }
    }

    #[test]
    fn spans_cover_each_field_as_written() {
        let line = r#"a, "b,""c"" " ,,d"#;
        let mut r = Record::default();
        r.parse(line.as_bytes()).unwrap();
        let spans: Vec<&str> = (0..r.len()).map(|i| &line[r.span(i)]).collect();
        assert_eq!(spans, ["a", r#" "b,""c"" " "#, "", "d"]);
        assert_eq!(&r[1], br#"b,"c""#);
    }

    #[test]
    fn a_stray_quote_is_an_error_of_its_own_line() {
        assert_eq!(
            fields(r#"1,"abc,2"#),
            Err(LineError::UnterminatedQuote { field: 1 })
        );
        assert_eq!(
            fields(r#""a"b,c"#),
            Err(LineError::TextAfterQuote { field: 0 })
        );
    }

    #[test]
    fn lines_do_not_depend_on_chunk_boundaries() {
        let whole = lines(&["a,b\r\nc,d\n\"e\nf"]);
        let bytewise: Vec<String> = "a,b\r\nc,d\n\"e\nf".chars().map(String::from).collect();
        let pieces: Vec<&str> = bytewise.iter().map(String::as_str).collect();
        assert_eq!(whole, lines(&pieces));
        let expected = ["a,b", "c,d", "\"e", "f"].map(|s| Some(s.to_owned()));
        assert_eq!(whole, expected);
    }

    #[test]
    fn an_overlong_line_is_reported_and_the_next_one_read() {
        let long = "x".repeat(MAX_LINE + 10);
        let (a, b) = long.split_at(MAX_LINE / 2);
        let got = lines(&["h\n", a, b, "\nnext\n"]);
        assert_eq!(got, [Some("h".into()), None, Some("next".into())]);
        assert_eq!(lines(&[&long]), [None]);
    }
}
