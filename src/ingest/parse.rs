//! The row loop: header check, per-row validation, pseudonymisation; the
//! duplicates once all rows are in (see [`super::duplicates`]).
//!
//! [`UploadParser`] is fed the file in chunks as they arrive and keeps no
//! thread while it waits for the network: each `feed` handles the lines a
//! chunk completes. Given more than one thread, it gathers complete lines
//! into blocks and hands each block to a thread of its own, a fork of the
//! parser that starts at the block's row number, while the next chunks
//! arrive; at most that many blocks are read at once, and each is appended
//! in file order once read. A line break always ends a row (see
//! [`super::lines`]), and every per-row check but the duplicates (found at
//! the end) and the categories of open columns (which grow, so such files
//! are read here, in order) needs nothing of other rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::agreement::Agreements;
use super::lines::{Line, LineError, LineSplitter, Record};
use super::row_numbers::RowNumbers;
use super::values::{ColumnBuilder, Parsed};
use super::{InvalidRows, ParsedUpload, RowProblem, UploadError, MAX_LISTED_PROBLEMS};
use crate::classification::Classifications;
use crate::pseudonym::{HolderPseudonym, HouseholdId, Identifier, Pseudonym, Pseudonymiser};
use crate::schema::{ColumnKind, DatasetDef, IdentifierMode};

/// Reads a whole CSV upload held in memory (tests, tools). See [`UploadParser`].
pub fn parse_upload(
    csv: &[u8],
    def: Arc<DatasetDef>,
    lists: &Classifications,
    pseudonymiser: &Arc<Pseudonymiser>,
    on_invalid: InvalidRows,
) -> Result<ParsedUpload, UploadError> {
    let mut parser = UploadParser::new(def, lists, Arc::clone(pseudonymiser), on_invalid);
    parser.feed(csv);
    parser.finish()
}

/// An upload being read, one chunk at a time. See the [module docs](super).
pub struct UploadParser {
    def: Arc<DatasetDef>,
    pseudonymiser: Arc<Pseudonymiser>,
    on_invalid: InvalidRows,
    lines: LineSplitter,
    record: Record,
    /// Set once the header line is read; a header problem is kept until `finish`.
    layout: Option<Result<Layout, UploadError>>,
    rows: RowSink,
    /// Lines after the header so far, of the blocks appended.
    row: u64,
    /// Blank lines not yet followed by a data line: blank lines at the end
    /// of a file are ignored, elsewhere they are invalid rows.
    blank_run: u64,
    /// Blocks read at once, each on a thread of its own.
    threads: usize,
    /// Bytes gathered for the next block (with more than one thread).
    pending: Vec<u8>,
    /// Blocks being read, in file order, with their line counts.
    reading: VecDeque<(Reading, u64)>,
    /// Buffers of blocks read, for the next ones: a fresh one would be
    /// written into new pages, block after block.
    spare: Vec<Vec<u8>>,
    /// Emptied sinks of blocks appended, for the next ones' forks.
    spare_rows: Vec<RowSink>,
}

/// A block being read on a thread of its own: the fork that reads it and,
/// once read, the block's buffer.
type Reading = JoinHandle<(UploadParser, Vec<u8>)>;

/// Bytes of complete lines read as one block on a thread of its own
/// (a few hundred in the unit tests, so that small files span blocks).
const BLOCK: usize = if cfg!(test) { 300 } else { 4 << 20 };

impl std::fmt::Debug for UploadParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadParser")
            .field("dataset", &self.def.name())
            .field("rows", &self.row)
            .finish_non_exhaustive()
    }
}

impl UploadParser {
    /// A parser for an upload into `def`, whose classified columns'
    /// code lists `lists` holds, pseudonymising with `pseudonymiser`.
    pub fn new(
        def: Arc<DatasetDef>,
        lists: &Classifications,
        pseudonymiser: Arc<Pseudonymiser>,
        on_invalid: InvalidRows,
    ) -> Self {
        let rows = RowSink::new(&def, lists, on_invalid);
        UploadParser {
            def,
            pseudonymiser,
            on_invalid,
            lines: LineSplitter::default(),
            record: Record::default(),
            layout: None,
            rows,
            row: 0,
            blank_run: 0,
            threads: 1,
            pending: Vec::new(),
            reading: VecDeque::new(),
            spare: Vec::new(),
            spare_rows: Vec::new(),
        }
    }

    /// This parser, reading up to `threads` blocks of the file at once.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// This parser, reading fields separated by `delimiter` instead of `,`.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.record = Record::new(delimiter);
        self
    }

    /// Reads the lines that `chunk` completes; returns once at most
    /// `threads` blocks are still being read.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.in_blocks() {
            if let Some(tail) = self.lines.take_tail() {
                // What the splitter holds (after the header, or a line it
                // took whole) came before what is pending.
                if !tail.is_empty() {
                    let pending = std::mem::replace(&mut self.pending, tail);
                    self.pending.extend_from_slice(&pending);
                }
                self.pending.extend_from_slice(chunk);
                if self.pending.len() >= BLOCK {
                    self.read_pending();
                }
                return;
            }
        }
        self.append_read();
        self.feed_lines(chunk);
    }

    /// Whether the file is read in blocks: more than one thread, the
    /// header read and valid, and no open column.
    fn in_blocks(&self) -> bool {
        self.threads > 1
            && matches!(self.layout, Some(Ok(_)))
            && self.rows.builders.iter().all(ColumnBuilder::forks)
    }

    /// Reads the lines that `bytes` completes, here, after the blocks
    /// appended so far.
    fn feed_lines(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |line| self.line(line));
        self.lines = lines;
    }

    /// Sends the complete lines pending off as a block; what follows the
    /// last line break stays pending. Without a line break (one line
    /// longer than a block, so over the line limit) the splitter takes it.
    fn read_pending(&mut self) {
        let mut block = std::mem::take(&mut self.pending);
        match memchr::memrchr(b'\n', &block) {
            Some(cut) => {
                let mut next = self.spare.pop().unwrap_or_default();
                next.clear();
                // A block and the chunk after it, without growing.
                next.reserve(2 * BLOCK);
                next.extend_from_slice(&block[cut + 1..]);
                self.pending = next;
                block.truncate(cut + 1);
                self.read_block(block);
            }
            None => {
                self.append_read();
                self.feed_lines(&block);
            }
        }
    }

    /// Reads `block` (complete lines) on a thread of its own, first
    /// appending the oldest blocks until fewer than `threads` are read.
    fn read_block(&mut self, block: Vec<u8>) {
        while self.reading.len() >= self.threads {
            self.append_oldest();
        }
        let lines = memchr::memchr_iter(b'\n', &block).count() as u64;
        let first_row = self.row + self.reading.iter().map(|r| r.1).sum::<u64>();
        let mut fork = self.fork(first_row);
        let households = self.def.household_column().is_some();
        fork.rows.reserve(lines as usize, households);
        // Handed over through a slot, so that it is still here if no
        // thread can be started.
        let work = Arc::new(std::sync::Mutex::new(Some((fork, block))));
        let take = |slot: &std::sync::Mutex<Option<(UploadParser, Vec<u8>)>>| {
            slot.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .expect("a block is read once")
        };
        let theirs = Arc::clone(&work);
        let spawned = std::thread::Builder::new()
            .name("ddc-parse".into())
            .spawn(move || {
                let (mut fork, block) = take(&theirs);
                fork.feed_lines(&block);
                (fork, block)
            });
        match spawned {
            Ok(handle) => self.reading.push_back((handle, lines)),
            Err(_) => {
                // No thread to be had: read it here, after the others.
                let (mut fork, block) = take(&work);
                fork.feed_lines(&block);
                self.append_read();
                self.absorb(fork);
            }
        }
    }

    /// Appends the oldest block being read, waiting for it.
    fn append_oldest(&mut self) {
        if let Some((handle, _)) = self.reading.pop_front() {
            let (fork, block) = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            self.spare.push(block);
            self.absorb(fork);
        }
    }

    /// Appends every block being read, waiting for them.
    fn append_read(&mut self) {
        while !self.reading.is_empty() {
            self.append_oldest();
        }
    }

    /// A parser for the rows after row `row`, with this one's header (and
    /// a spare sink, if there is one).
    fn fork(&mut self, row: u64) -> UploadParser {
        let rows = self.spare_rows.pop().unwrap_or_else(|| self.rows.fork());
        UploadParser {
            def: Arc::clone(&self.def),
            pseudonymiser: Arc::clone(&self.pseudonymiser),
            on_invalid: self.on_invalid,
            lines: LineSplitter::default(),
            record: Record::new(self.record.delimiter()),
            layout: match &self.layout {
                Some(Ok(layout)) => Some(Ok(layout.clone())),
                _ => None,
            },
            rows,
            row,
            blank_run: 0,
            threads: 1,
            pending: Vec::new(),
            reading: VecDeque::new(),
            spare: Vec::new(),
            spare_rows: Vec::new(),
        }
    }

    /// Appends what a fork read of the rows after this parser's, keeping
    /// its emptied sink for the next fork.
    fn absorb(&mut self, mut fork: UploadParser) {
        let lines = fork.row - self.row;
        if fork.blank_run < lines {
            // The fork read a data line: the blank lines before it are rows.
            for blank in self.row - self.blank_run + 1..=self.row {
                self.rows.reject(blank, None, "empty line".into());
            }
            self.blank_run = fork.blank_run;
        } else {
            self.blank_run += fork.blank_run;
        }
        self.row = fork.row;
        self.rows.absorb(&mut fork.rows);
        self.spare_rows.push(fork.rows);
    }

    /// Reads the last line and returns the upload's content.
    pub fn finish(mut self) -> Result<ParsedUpload, UploadError> {
        if !self.pending.is_empty() {
            self.read_pending();
        }
        self.append_read();
        let last = std::mem::take(&mut self.pending);
        self.feed_lines(&last);
        let lines = std::mem::take(&mut self.lines);
        lines.finish(|line| self.line(line));
        match self.layout {
            None => Err(UploadError::Header(vec![header_problem(
                None,
                "the file is empty (no header line)",
            )])),
            Some(Err(e)) => Err(e),
            Some(Ok(_)) => {
                let rows_read = self.row - self.blank_run;
                let id_column = self.def.identifier_column();
                (self.rows).finish(rows_read, self.on_invalid, id_column, self.threads)
            }
        }
    }

    fn line(&mut self, line: Line<'_>) {
        let parsed = match line {
            Line::Text(text) if self.layout.is_none() => {
                let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
                self.layout = Some(self.header(text));
                return;
            }
            Line::Text(text) if text.trim_ascii().is_empty() => {
                self.row += 1;
                self.blank_run += 1;
                return;
            }
            Line::Text(text) => self.record.parse(text),
            Line::TooLong if self.layout.is_none() => {
                let problem = header_problem(None, &LineError::TooLong.reason());
                self.layout = Some(Err(UploadError::Header(vec![problem])));
                return;
            }
            Line::TooLong => Err(LineError::TooLong),
        };
        for blank in self.row - self.blank_run + 1..=self.row {
            self.rows.reject(blank, None, "empty line".into());
        }
        self.blank_run = 0;
        self.row += 1;
        let Some(Ok(layout)) = &self.layout else {
            return;
        };
        match parsed {
            Ok(()) => self.rows.accept(
                self.row,
                &self.record,
                layout,
                &self.def,
                &self.pseudonymiser,
            ),
            Err(e) => {
                let column = e.field().and_then(|f| layout.column_at(f, &self.def));
                self.rows.reject(self.row, column, e.reason());
            }
        }
    }

    fn header(&mut self, text: &[u8]) -> Result<Layout, UploadError> {
        if let Err(e) = self.record.parse(text) {
            return Err(UploadError::Header(vec![header_problem(
                None,
                &format!("the header line is not valid CSV: {}", e.reason()),
            )]));
        }
        Layout::from_header(&self.record, &self.def)
    }
}

/// Where each schema column sits in the file.
#[derive(Clone)]
struct Layout {
    identifier: usize,
    household: Option<usize>,
    /// File position of each declared column, in schema order.
    columns: Vec<usize>,
    fields: usize,
}

impl Layout {
    fn from_header(headers: &Record, def: &DatasetDef) -> Result<Self, UploadError> {
        let mut problems = Vec::new();
        let mut positions: HashMap<&[u8], usize> = HashMap::new();
        for (i, name) in headers.iter().enumerate() {
            let declared = [def.identifier_column()]
                .into_iter()
                .chain(def.household_column())
                .chain(def.columns().iter().map(|c| c.name.as_str()))
                .find(|d| d.as_bytes() == name);
            match declared {
                // What the file has and the schema does not is the caller's
                // text (a file without a header line has data here, perhaps
                // an identifier): it is named by its position only.
                None => problems.push(header_problem(
                    None,
                    &format!(
                        "field {} of the header line is not a declared column \
                         (is the header line missing?)",
                        i + 1
                    ),
                )),
                Some(d) if positions.insert(name, i).is_some() => {
                    problems.push(header_problem(Some(d.to_owned()), "column appears twice"));
                }
                Some(_) => {}
            }
        }
        let mut find = |name: &str| {
            let pos = positions.get(name.as_bytes()).copied();
            if pos.is_none() {
                problems.push(header_problem(Some(name.to_owned()), "missing column"));
            }
            pos.unwrap_or(usize::MAX)
        };
        let identifier = find(def.identifier_column());
        let household = def.household_column().map(&mut find);
        let columns = def.columns().iter().map(|c| find(&c.name)).collect();
        if !problems.is_empty() {
            return Err(UploadError::Header(problems));
        }
        Ok(Layout {
            identifier,
            household,
            columns,
            fields: headers.len(),
        })
    }

    /// The declared name of the column at file position `field`, if any.
    fn column_at<'d>(&self, field: usize, def: &'d DatasetDef) -> Option<&'d str> {
        if field == self.identifier {
            return Some(def.identifier_column());
        }
        if Some(field) == self.household {
            return def.household_column();
        }
        let i = self.columns.iter().position(|&p| p == field)?;
        Some(&def.columns()[i].name)
    }
}

fn header_problem(column: Option<String>, reason: &str) -> RowProblem {
    RowProblem {
        row: 0,
        column,
        reason: reason.into(),
    }
}

/// Accumulates accepted rows and problems.
struct RowSink {
    builders: Vec<ColumnBuilder>,
    agreements: Agreements,
    pseudonyms: Vec<Pseudonym>,
    households: Vec<Pseudonym>,
    /// Data row number of each accepted row.
    row_numbers: RowNumbers,
    problems: Vec<RowProblem>,
    rejected: u64,
    on_invalid: InvalidRows,
    parsed: Vec<Parsed>,
}

impl RowSink {
    fn new(def: &DatasetDef, lists: &Classifications, on_invalid: InvalidRows) -> Self {
        let builder = |kind: &ColumnKind| match kind.code_list().and_then(|id| lists.get(id)) {
            Some(list) => ColumnBuilder::listed(list),
            None => ColumnBuilder::new(kind),
        };
        RowSink {
            builders: def.columns().iter().map(|c| builder(&c.kind)).collect(),
            agreements: Agreements::new(def, lists),
            pseudonyms: Vec::new(),
            households: Vec::new(),
            row_numbers: RowNumbers::default(),
            problems: Vec::new(),
            rejected: 0,
            on_invalid,
            parsed: Vec::with_capacity(def.columns().len()),
        }
    }

    /// An empty sink with this one's builders and agreements, for another
    /// part of the file. Only called when every builder forks.
    fn fork(&self) -> Self {
        RowSink {
            builders: self
                .builders
                .iter()
                .filter_map(ColumnBuilder::fork)
                .collect(),
            agreements: self.agreements.clone(),
            pseudonyms: Vec::new(),
            households: Vec::new(),
            row_numbers: RowNumbers::default(),
            problems: Vec::new(),
            rejected: 0,
            on_invalid: self.on_invalid,
            parsed: Vec::with_capacity(self.builders.len()),
        }
    }

    /// Room for `rows` more rows (with `households` if the dataset has
    /// them), so that a fork reading a block does not grow its vectors
    /// row by row.
    fn reserve(&mut self, rows: usize, households: bool) {
        self.pseudonyms.reserve(rows);
        if households {
            self.households.reserve(rows);
        }
        for b in &mut self.builders {
            b.reserve(rows);
        }
    }

    /// Appends a fork's rows, read from the rows after this sink's, and
    /// empties the fork: its vectors keep their room for another block,
    /// where fresh ones would be written into new pages, block after block.
    fn absorb(&mut self, fork: &mut RowSink) {
        let room = MAX_LISTED_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(fork.problems.drain(..).take(room));
        self.rejected += std::mem::take(&mut fork.rejected);
        self.pseudonyms.extend_from_slice(&fork.pseudonyms);
        fork.pseudonyms.clear();
        self.households.extend_from_slice(&fork.households);
        fork.households.clear();
        self.row_numbers
            .append(std::mem::take(&mut fork.row_numbers));
        for (mine, theirs) in self.builders.iter_mut().zip(&mut fork.builders) {
            mine.absorb(theirs);
        }
    }

    fn problem(&mut self, row: u64, column: Option<&str>, reason: String) {
        if self.problems.len() < MAX_LISTED_PROBLEMS {
            self.problems.push(RowProblem {
                row,
                column: column.map(str::to_owned),
                reason,
            });
        }
    }

    /// Rejects a row that could not be split into fields.
    fn reject(&mut self, row: u64, column: Option<&str>, reason: String) {
        self.problem(row, column, reason);
        self.rejected += 1;
    }

    fn accept(
        &mut self,
        row: u64,
        record: &Record,
        layout: &Layout,
        def: &DatasetDef,
        pseudonymiser: &Pseudonymiser,
    ) {
        if record.len() != layout.fields {
            let reason = format!("expected {} fields, found {}", layout.fields, record.len());
            self.problem(row, None, reason);
            self.rejected += 1;
            return;
        }
        let mut ok = true;
        let id_column = def.identifier_column();
        let field = &record[layout.identifier];
        let pseudonym = match person_pseudonym(def.identifier_mode(), field, pseudonymiser) {
            Ok(p) => Some(p),
            Err(reason) => {
                self.problem(row, Some(id_column), reason);
                ok = false;
                None
            }
        };
        let household = layout
            .household
            .and_then(|pos| match HouseholdId::parse(&record[pos]) {
                Ok(h) => Some(pseudonymiser.pseudonymise_household(&h)),
                Err(e) => {
                    let column = def.household_column().unwrap_or_default();
                    self.problem(row, Some(column), e.to_string());
                    ok = false;
                    None
                }
            });
        self.parsed.clear();
        for (i, &pos) in layout.columns.iter().enumerate() {
            let field = &record[pos];
            if let Some(code) = self.builders[i].known_code(field) {
                self.parsed.push(Parsed::Code(code));
                continue;
            }
            match self.builders[i].check(field) {
                Ok(p) => self.parsed.push(p),
                Err(reason) => {
                    self.problem(row, Some(&def.columns()[i].name), reason);
                    ok = false;
                }
            }
        }
        if ok {
            let disagreements: Vec<(usize, String)> = (self.agreements)
                .check(&self.parsed)
                .map(|(i, reason)| (i, reason.to_owned()))
                .collect();
            for (i, reason) in disagreements {
                self.problem(row, Some(&def.columns()[i].name), reason);
                ok = false;
            }
        }
        let Some(pseudonym) = pseudonym.filter(|_| ok) else {
            self.rejected += 1;
            return;
        };
        self.pseudonyms.push(pseudonym);
        self.households.extend(household);
        self.row_numbers.push(row);
        for (i, &pos) in layout.columns.iter().enumerate() {
            self.builders[i].push(&record[pos], self.parsed[i]);
        }
    }

    /// Rejects the rows of a person seen before: each later row always,
    /// and with [`InvalidRows::Skip`] the first too (both are suspect).
    /// Returns which accepted rows are dropped.
    fn drop_duplicates(&mut self, id_column: &str, threads: usize) -> Vec<bool> {
        let mut dropped = vec![false; self.pseudonyms.len()];
        let mut found = Vec::new();
        for group in super::duplicates::repeated(&self.pseudonyms, threads) {
            let first_row = self.row_numbers.get(group[0]);
            for &later in &group[1..] {
                dropped[later] = true;
                let reason = format!("the same person appears at row {first_row}");
                found.push((self.row_numbers.get(later), reason));
            }
            if self.on_invalid == InvalidRows::Skip {
                dropped[group[0]] = true;
                let again = self.row_numbers.get(group[1]);
                let reason = format!("the same person appears again at row {again}");
                found.push((first_row, reason));
            }
        }
        self.rejected += found.len() as u64;
        // The listed problems stay the first ones by row.
        found.sort_by_key(|f| f.0);
        found.truncate(MAX_LISTED_PROBLEMS);
        self.problems
            .extend(found.into_iter().map(|(row, reason)| RowProblem {
                row,
                column: Some(id_column.to_owned()),
                reason,
            }));
        dropped
    }

    fn finish(
        mut self,
        rows_read: u64,
        on_invalid: InvalidRows,
        id_column: &str,
        threads: usize,
    ) -> Result<ParsedUpload, UploadError> {
        let dropped = self.drop_duplicates(id_column, threads);
        self.problems.sort_by_key(|p| p.row);
        self.problems.truncate(MAX_LISTED_PROBLEMS);
        if self.rejected > 0 && on_invalid == InvalidRows::Reject {
            return Err(UploadError::InvalidRows {
                problems: self.problems,
                total: self.rejected,
            });
        }
        // Every accepted row has a household exactly when the dataset has them.
        let with_households = self.households.len() == self.pseudonyms.len();
        // Nearly always every accepted row is kept, and kept as it is.
        let keep: Option<Vec<u32>> = dropped.contains(&true).then(|| {
            (0u32..)
                .zip(&dropped)
                .filter(|&(_, &dropped)| !dropped)
                .map(|(i, _)| i)
                .collect()
        });
        let (pseudonyms, households): (Vec<Pseudonym>, Option<Vec<Pseudonym>>) = match &keep {
            None => (self.pseudonyms, with_households.then_some(self.households)),
            Some(keep) => (
                keep.iter().map(|&i| self.pseudonyms[i as usize]).collect(),
                with_households
                    .then(|| keep.iter().map(|&i| self.households[i as usize]).collect()),
            ),
        };
        if pseudonyms.is_empty() {
            return Err(UploadError::NoRows);
        }
        let columns = (self.builders.into_iter())
            .map(|b| b.finish(keep.as_deref()))
            .collect();
        Ok(ParsedUpload {
            pseudonyms,
            households,
            columns,
            rows_read,
            rows_rejected: self.rejected,
            problems: self.problems,
        })
    }
}

/// The person's pseudonym from the identifier field of a dataset in
/// `mode`, or why there is none (never the value).
fn person_pseudonym(
    mode: IdentifierMode,
    field: &[u8],
    pseudonymiser: &Pseudonymiser,
) -> Result<Pseudonym, String> {
    match mode {
        IdentifierMode::Identifier => Identifier::parse(field)
            .map(|id| pseudonymiser.pseudonymise(&id))
            .map_err(|e| e.to_string()),
        IdentifierMode::HolderPseudonym => HolderPseudonym::parse(field)
            .map(|h| pseudonymiser.pseudonymise_holder(&h))
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::keys::{KeyVersion, PseudonymKey};
    use crate::schema::{ColumnDef, ColumnKind};

    fn def() -> Arc<DatasetDef> {
        let kind = ColumnKind::Categorical {
            categories: vec!["havo".into(), "vwo".into()],
        };
        let columns = vec![ColumnDef::new("niveau", kind)];
        Arc::new(DatasetDef::new("duo.t", "duo", "pgn", None, columns).unwrap())
    }

    /// The `n`-th valid BSN from 900000000 up.
    fn bsn(n: usize) -> String {
        (900_000_000u64..)
            .map(|x| x.to_string())
            .filter(|s| {
                let d: Vec<i64> = s.bytes().map(|b| i64::from(b - b'0')).collect();
                let sum: i64 = (0..8).map(|i| (9 - i as i64) * d[i]).sum::<i64>() - d[8];
                sum.rem_euclid(11) == 0
            })
            .nth(n)
            .unwrap()
    }

    /// A data line of one of several kinds, for the `i`-th person.
    fn line(kind: u8, i: usize) -> String {
        match kind % 7 {
            0 | 1 => format!("{},havo", bsn(i)),
            6 => format!("{},vwo", bsn(i / 4)), // a person of another line, perhaps
            2 => format!("{},\"vwo", bsn(i)),
            3 => format!("\"{}\",\"v\"x,", bsn(i)),
            4 => String::new(),
            _ => format!("{},mavo\r", bsn(i)),
        }
    }

    #[test]
    fn a_person_seen_twice_is_rejected_at_each_later_row_and_skipped_whole() {
        let p = Arc::new(crate::pseudonym::Pseudonymiser::new(
            &PseudonymKey::from_bytes([7; 32]),
            KeyVersion(1),
        ));
        let lists = Classifications::default();
        // Person 0 at rows 1, 4 and 6; person 1 at rows 2 and 3; row 5
        // invalid; person 3 once, at row 7.
        let mut file = String::from("pgn,niveau\n");
        for (i, person) in [0, 1, 1, 0, 2, 0, 3].into_iter().enumerate() {
            let level = if i == 4 { "mavo" } else { "havo" };
            file.push_str(&format!("{},{level}\n", bsn(person)));
        }
        let listed = |problems: &[RowProblem]| -> Vec<(u64, String)> {
            problems.iter().map(|q| (q.row, q.reason.clone())).collect()
        };
        let at = |row: u64| format!("the same person appears at row {row}");
        let again = |row: u64| format!("the same person appears again at row {row}");
        let Err(UploadError::InvalidRows { problems, total }) =
            parse_upload(file.as_bytes(), def(), &lists, &p, InvalidRows::Reject)
        else {
            panic!("duplicates reject the upload");
        };
        let mut reasons = listed(&problems);
        assert_eq!(total, 4);
        reasons.remove(2); // row 5's own problem
        assert_eq!(reasons, [(3, at(2)), (4, at(1)), (6, at(1))]);

        let parsed = parse_upload(file.as_bytes(), def(), &lists, &p, InvalidRows::Skip).unwrap();
        assert_eq!((parsed.rows_read, parsed.rows_rejected), (7, 6));
        assert_eq!(parsed.pseudonyms.len(), 1);
        let mut reasons = listed(&parsed.problems);
        reasons.remove(4);
        assert_eq!(
            reasons,
            [
                (1, again(4)),
                (2, again(3)),
                (3, at(2)),
                (4, at(1)),
                (6, at(1))
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the lines hold and wherever the chunks break, every data
        /// line is read and either stored or rejected.
        #[test]
        fn rows_read_are_the_data_lines_whatever_the_chunking(
            kinds in proptest::collection::vec(any::<u8>(), 1..100),
            cuts in proptest::collection::vec(1usize..50, 1..20),
        ) {
            let lines: Vec<String> = kinds.iter().enumerate().map(|(i, &k)| line(k, i)).collect();
            let file = format!("pgn,niveau\n{}\n", lines.join("\n"));
            let data_lines = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |p| p + 1);
            let pseudonymiser = Arc::new(crate::pseudonym::Pseudonymiser::new(
                &PseudonymKey::from_bytes([7; 32]),
                KeyVersion(1),
            ));
            let lists = Classifications::default();
            let whole = parse_upload(file.as_bytes(), def(), &lists, &pseudonymiser, InvalidRows::Skip);
            let read = |threads: usize| {
                let mut parser = UploadParser::new(def(), &lists, Arc::clone(&pseudonymiser), InvalidRows::Skip).with_threads(threads);
                let mut rest = file.as_bytes();
                for cut in cuts.iter().cycle() {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, tail) = rest.split_at((*cut * 7).min(rest.len()));
                    parser.feed(chunk);
                    rest = tail;
                }
                parser.finish()
            };
            // Read in blocks, in parts on several threads: the same content.
            for threads in [2, 3] {
                match (&whole, read(threads)) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, &b, "{} threads", threads),
                    (Err(UploadError::NoRows), Err(UploadError::NoRows)) => {}
                    (a, b) => prop_assert!(false, "{:?} vs {:?}", a.as_ref().err(), b.err()),
                }
            }
            let chunked = read(1);
            match (whole, chunked) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a.rows_read, data_lines as u64);
                    // One row per person: what the commit relies on.
                    let distinct: std::collections::BTreeSet<_> = a.pseudonyms.iter().collect();
                    prop_assert_eq!(distinct.len(), a.pseudonyms.len());
                    prop_assert_eq!(a.pseudonyms.len() as u64 + a.rows_rejected, a.rows_read);
                    prop_assert_eq!((a.rows_read, a.rows_rejected, a.problems), (b.rows_read, b.rows_rejected, b.problems));
                    prop_assert_eq!(a.pseudonyms, b.pseudonyms);
                }
                (Err(UploadError::NoRows), Err(UploadError::NoRows)) => {}
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}
