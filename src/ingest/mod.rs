//! Reading an uploaded CSV file into validated, pseudonymised columns.
//!
//! [`UploadParser`] checks the header against the dataset's schema, then
//! every row: the identifier (replaced by its pseudonym at once), each
//! value's type and category (a classified column's against its code list),
//! the agreement of dependent columns, and duplicate persons. It stores nothing; the
//! caller commits the result. No problem report ever carries a value.

mod agreement;
mod duplicates;
mod identifier_like;
pub(crate) mod lines;
mod parse;
mod row_numbers;
mod values;

pub use lines::MAX_LINE;
pub use parse::{parse_upload, UploadParser};

use crate::columns::ColumnData;
use crate::pseudonym::Pseudonym;

/// Most row problems listed in an error or receipt; the total is always counted.
pub const MAX_LISTED_PROBLEMS: usize = 10_000;

/// What to do with invalid rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidRows {
    /// Reject the whole upload.
    Reject,
    /// Store the valid rows and report the invalid ones.
    Skip,
}

/// Why one row (or the header, row 0) was rejected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowProblem {
    /// Data row number from 1; 0 is the header line.
    pub row: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why, without the value.
    pub reason: String,
}

impl std::fmt::Display for RowProblem {
    /// `rows[3].niveau: reason`, the same path a field violation carries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = crate::field_path::FieldPath::upload(self.row, self.column.as_deref());
        write!(f, "{path}: {}", self.reason)
    }
}

/// The validated content of an upload, one entry per stored row.
#[derive(Debug, PartialEq)]
pub struct ParsedUpload {
    /// One pseudonym per row; all distinct.
    pub pseudonyms: Vec<Pseudonym>,
    /// One household pseudonym per row, if the dataset has households.
    pub households: Option<Vec<Pseudonym>>,
    /// One column per declared column, aligned with `pseudonyms`.
    pub columns: Vec<ColumnData>,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows rejected (with [`InvalidRows::Skip`]).
    pub rows_rejected: u64,
    /// The first problems found, at most [`MAX_LISTED_PROBLEMS`].
    pub problems: Vec<RowProblem>,
}

/// Why an upload was rejected as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The header does not match the schema.
    #[error("the header does not match the dataset's schema: {}", first(.0))]
    Header(Vec<RowProblem>),
    /// Rows are invalid and the upload rejects invalid rows.
    #[error("{total} invalid row(s); first: {}", first(.problems))]
    InvalidRows {
        /// The first problems.
        problems: Vec<RowProblem>,
        /// Rows rejected in all.
        total: u64,
    },
    /// The file holds no data rows (or none valid).
    #[error("the file holds no valid data rows")]
    NoRows,
}

fn first(problems: &[RowProblem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}
