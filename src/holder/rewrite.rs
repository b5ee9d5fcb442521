//! The rewrite of an upload file for a holder-pseudonym dataset: each data
//! row's identifier is checked (the eleven-test) and replaced by its holder
//! pseudonym; the header, blank lines and every other field pass unchanged.
//!
//! A row that cannot be rewritten is never passed on as it is, since it may
//! hold an identifier in the clear: a failing eleven-test, a line that is
//! not valid CSV, a line over [`MAX_LINE`](crate::ingest::MAX_LINE), and a
//! row with another number of fields than the header (a shifted row may
//! carry the identifier in another column). [`check`] reads the whole file first and lists such
//! rows, so that the client sends nothing when any fails; [`HolderRewrite`]
//! then produces the bytes to send, and fails as a read error should a row
//! fail after all (a file changed between the two passes), which cancels
//! the upload before its closing message.

use std::io::{self, Read};
use std::sync::Arc;

use super::HoldersKey;
use crate::ingest::lines::{Line, LineError, LineSplitter, Record};
use crate::ingest::RowProblem;
use crate::pseudonym::Identifier;

/// Most problems [`check`] lists; it counts them all.
pub const MAX_LOCAL_PROBLEMS: usize = 100;

/// Bytes read from the source at a time.
const READ_CHUNK: usize = 64 << 10;

/// Why a file cannot be sent. Names rows and the identifier column, never
/// a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    /// Rows (or the header, row 0) cannot be rewritten.
    #[error("the file cannot be sent: {total} problem(s), first: {}", first(.problems))]
    Rows {
        /// The first problems, at most [`MAX_LOCAL_PROBLEMS`].
        problems: Vec<RowProblem>,
        /// Problems in all.
        total: u64,
    },
}

fn first(problems: &[RowProblem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Reads all of `source` as [`HolderRewrite`] would, and returns the number
/// of lines after the header, or every row that cannot be sent (only the
/// header's problem if the header is refused).
pub fn check(
    mut source: impl Read,
    key: Arc<HoldersKey>,
    identifier_column: &str,
    delimiter: u8,
) -> Result<u64, RewriteError> {
    let mut rows = Rows::new(key, identifier_column, delimiter);
    // The check needs each row's verdict, not its holder pseudonym.
    rows.rewrite = false;
    let mut lines = LineSplitter::default();
    let mut chunk = vec![0u8; READ_CHUNK];
    let (mut problems, mut total) = (Vec::new(), 0u64);
    let mut out = Vec::new();
    let mut each = |line: Line<'_>| {
        out.clear();
        if let Err(p) = rows.line(line, &mut out) {
            total += 1;
            if problems.len() < MAX_LOCAL_PROBLEMS {
                problems.push(p);
            }
        }
    };
    loop {
        match source.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => lines.feed(&chunk[..n], &mut each),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    lines.finish(&mut each);
    match total {
        0 => Ok(rows.row),
        _ => Err(RewriteError::Rows { problems, total }),
    }
}

/// A reader of the bytes to send: `source` with each identifier replaced
/// by its holder pseudonym. A row that cannot be rewritten is a read error
/// of kind `InvalidData` (naming the row, never its values).
pub struct HolderRewrite<R> {
    source: R,
    lines: Option<LineSplitter>,
    rows: Rows,
    chunk: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    /// A row could not be rewritten: every later read fails too, so that
    /// the end of what was rewritten never passes for the end of the file.
    failed: bool,
}

impl<R: Read> HolderRewrite<R> {
    /// Rewrites `source`, whose header names `identifier_column`, with
    /// fields separated by `delimiter`.
    pub fn new(source: R, key: Arc<HoldersKey>, identifier_column: &str, delimiter: u8) -> Self {
        HolderRewrite {
            source,
            lines: Some(LineSplitter::default()),
            rows: Rows::new(key, identifier_column, delimiter),
            chunk: vec![0u8; READ_CHUNK],
            out: Vec::new(),
            sent: 0,
            failed: false,
        }
    }

    /// Fills `out` from the next chunk of the source; leaves it empty at the end.
    fn fill(&mut self) -> io::Result<()> {
        if self.failed {
            let error = "an earlier row of the file cannot be sent";
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        self.out.clear();
        self.sent = 0;
        while self.out.is_empty() {
            let Some(lines) = self.lines.as_mut() else {
                return Ok(());
            };
            let n = match self.source.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (rows, out) = (&mut self.rows, &mut self.out);
            let mut failed = None;
            let mut each = |line: Line<'_>| {
                if failed.is_none() {
                    failed = rows.line(line, out).err();
                }
            };
            if n == 0 {
                if let Some(lines) = self.lines.take() {
                    lines.finish(&mut each);
                }
            } else {
                lines.feed(&self.chunk[..n], &mut each);
            }
            if let Some(problem) = failed {
                self.failed = true;
                self.out.clear();
                let error = RewriteError::Rows {
                    problems: vec![problem],
                    total: 1,
                };
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for HolderRewrite<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent == self.out.len() {
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.sent);
        buf[..n].copy_from_slice(&self.out[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}

impl<R> std::fmt::Debug for HolderRewrite<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderRewrite")
            .field("rows", &self.rows.row)
            .finish_non_exhaustive()
    }
}

/// The header found: where the identifier is and how many fields a row has.
#[derive(Clone, Copy)]
struct Header {
    identifier: usize,
    fields: usize,
}

/// How far the header line has been read.
#[derive(Clone, Copy)]
enum HeaderState {
    /// No line yet.
    Unread,
    /// A header naming the identifier column once.
    Read(Header),
    /// A header refused: nothing after it is read.
    Refused,
}

/// The line-by-line rewrite, numbering rows as the server does: the first
/// line is the header, every later line (blank or not) is a row.
struct Rows {
    key: Arc<HoldersKey>,
    identifier_column: String,
    record: Record,
    header: HeaderState,
    /// Lines after the header so far.
    row: u64,
    /// Whether rows are rewritten (false: only checked, nothing hashed).
    rewrite: bool,
}

impl Rows {
    fn new(key: Arc<HoldersKey>, identifier_column: &str, delimiter: u8) -> Self {
        Rows {
            key,
            identifier_column: identifier_column.to_owned(),
            record: Record::new(delimiter),
            header: HeaderState::Unread,
            row: 0,
            rewrite: true,
        }
    }

    /// Appends the line to send for `line`, with a line break.
    fn line(&mut self, line: Line<'_>, out: &mut Vec<u8>) -> Result<(), RowProblem> {
        let header = match self.header {
            HeaderState::Read(header) => header,
            HeaderState::Refused => return Ok(()),
            HeaderState::Unread => {
                let text = self.header(line).inspect_err(|_| {
                    self.header = HeaderState::Refused;
                })?;
                out.extend_from_slice(text);
                out.push(b'\n');
                return Ok(());
            }
        };
        self.row += 1;
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong => return Err(self.problem(None, LineError::TooLong.reason())),
        };
        if text.trim_ascii().is_empty() {
            // The server counts it; nothing in it to replace.
            out.extend_from_slice(text);
            out.push(b'\n');
            return Ok(());
        }
        if let Err(e) = self.record.parse(text) {
            let column = e.field().filter(|&f| f == header.identifier);
            let column = column.map(|_| self.identifier_column.clone());
            return Err(self.problem(column, e.reason()));
        }
        if self.record.len() != header.fields {
            let reason = format!(
                "expected {} fields, found {}",
                header.fields,
                self.record.len()
            );
            return Err(self.problem(None, reason));
        }
        let id = Identifier::parse(&self.record[header.identifier]).map_err(|e| {
            let column = Some(self.identifier_column.clone());
            self.problem(column, e.to_string())
        })?;
        if !self.rewrite {
            return Ok(());
        }
        let span = self.record.span(header.identifier);
        out.extend_from_slice(&text[..span.start]);
        out.extend_from_slice(self.key.pseudonym(&id).as_bytes());
        out.extend_from_slice(&text[span.end..]);
        out.push(b'\n');
        Ok(())
    }

    /// Reads the header line and returns it as it is to be sent.
    fn header<'a>(&mut self, line: Line<'a>) -> Result<&'a [u8], RowProblem> {
        let at_header = |column: Option<String>, reason: String| RowProblem {
            row: 0,
            column,
            reason,
        };
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong => return Err(at_header(None, LineError::TooLong.reason())),
        };
        let fields = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
        if let Err(e) = self.record.parse(fields) {
            let reason = format!("the header line is not valid CSV: {}", e.reason());
            return Err(at_header(None, reason));
        }
        let column = self.identifier_column.as_bytes();
        let mut at = self.record.iter().enumerate().filter(|(_, f)| *f == column);
        let identifier = match (at.next(), at.next()) {
            (Some((i, _)), None) => i,
            (None, _) => {
                let name = Some(self.identifier_column.clone());
                return Err(at_header(name, "missing column".into()));
            }
            (Some(_), Some(_)) => {
                let name = Some(self.identifier_column.clone());
                return Err(at_header(name, "column appears twice".into()));
            }
        };
        self.header = HeaderState::Read(Header {
            identifier,
            fields: self.record.len(),
        });
        Ok(text)
    }

    fn problem(&self, column: Option<String>, reason: String) -> RowProblem {
        RowProblem {
            row: self.row,
            column,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Arc<HoldersKey> {
        Arc::new(HoldersKey::from_bytes(&[5; 32]))
    }

    fn rewrite(csv: &str) -> io::Result<String> {
        let mut sent = String::new();
        HolderRewrite::new(csv.as_bytes(), key(), "pgn", b',').read_to_string(&mut sent)?;
        Ok(sent)
    }

    fn hex(id: &str) -> String {
        key().pseudonym(&Identifier::parse(id.as_bytes()).unwrap())
    }

    #[test]
    fn only_the_identifier_field_is_replaced() {
        let csv = "\u{feff}x,pgn,y\r\n\"a,\"\"b\"\"\", \"249566758\" ,c\n\n1,12345672,2";
        let sent = rewrite(csv).unwrap();
        let expected = format!(
            "\u{feff}x,pgn,y\n\"a,\"\"b\"\"\",{},c\n\n1,{},2\n",
            hex("249566758"),
            hex("012345672")
        );
        assert_eq!(sent, expected);
        assert_eq!(check(csv.as_bytes(), key(), "pgn", b',').unwrap(), 3);
    }

    #[test]
    fn small_reads_give_the_same_bytes() {
        let csv = "pgn,y\n249566758,a\n111222333,b\n";
        let mut reader = HolderRewrite::new(csv.as_bytes(), key(), "pgn", b',');
        let mut sent = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match reader.read(&mut buf).unwrap() {
                0 => break,
                n => sent.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(String::from_utf8(sent).unwrap(), rewrite(csv).unwrap());
    }

    #[test]
    fn rows_that_cannot_be_rewritten_are_listed_without_their_values() {
        let csv = "pgn,y\n249566758,a\n249566757,b\n\"111222333,c\n111222333\n";
        let Err(RewriteError::Rows { problems, total }) = check(csv.as_bytes(), key(), "pgn", b',')
        else {
            panic!("the rows pass");
        };
        assert_eq!(total, 3);
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            [
                "rows[2].pgn: identifier fails the eleven-test for both BSN and onderwijsnummer",
                "rows[3].pgn: quoted field not closed on its line (a row cannot span lines)",
                "rows[4]: expected 2 fields, found 1",
            ]
        );
        let e = rewrite(csv).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let mut reader = HolderRewrite::new(csv.as_bytes(), key(), "pgn", b',');
        let mut buf = [0u8; 1 << 16];
        assert!(reader.read(&mut buf).is_err());
        assert!(
            reader.read(&mut buf).is_err(),
            "a failed rewrite never ends"
        );
        assert!(e.to_string().contains("rows[2].pgn"), "{e}");
        for id in ["249566757", "111222333"] {
            assert!(!format!("{problems:?} {e}").contains(id));
        }
    }

    #[test]
    fn a_header_without_the_identifier_column_sends_nothing() {
        for (csv, reason) in [
            ("249566758,a\n", "header.pgn: missing column"),
            ("pgn,pgn\n249566757\n", "header.pgn: column appears twice"),
        ] {
            let e = check(csv.as_bytes(), key(), "pgn", b',').unwrap_err();
            assert!(e.to_string().contains(": 1 problem(s)"), "{e}");
            assert!(e.to_string().contains(reason), "{e}");
            assert!(rewrite(csv).is_err());
        }
    }
}
