//! The one mapping from engine errors to gRPC statuses.
//!
//! Every refusal carries a `google.rpc.ErrorInfo` (domain `ddc.v1`, a stable
//! [`Reason`]); problems with particular fields travel as
//! `google.rpc.BadRequest` field violations whose `field` is a
//! [`FieldPath`] (`filters[0].values[2]`, `rows[12].birth_year`) and whose
//! `description` is the sentence for people. No message, path or detail
//! ever holds a value the caller sent: the errors mapped here are built from
//! positions and declared names only.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::reason::{Reason, ERROR_DOMAIN};
use crate::disclosure::attacker::AttackerError;
use crate::disclosure::{BudgetExceeded, DisclosureError};
use crate::engine::{BrokenUpload, EngineError};
use crate::field_path::FieldPath;
use crate::ingest::{RowProblem, UploadError};
use crate::store::StoreError;

/// Most field violations attached to one status (they travel in a trailer).
const MAX_VIOLATIONS: usize = 50;

/// What a table refusal adds to the engine's message.
const TABLE_HINT: &str = "the table cannot be released as asked: use fewer or coarser categories";

/// How an error is answered, apart from its message.
struct Refusal {
    code: Code,
    reason: Reason,
    /// Field violations, for INVALID_ARGUMENT.
    violations: Vec<(FieldPath, String)>,
    /// The request field that named what was not found.
    field: Option<FieldPath>,
    /// Advice appended to the message.
    hint: Option<&'static str>,
}

impl Refusal {
    fn new(code: Code, reason: Reason) -> Self {
        Refusal {
            code,
            reason,
            violations: Vec::new(),
            field: None,
            hint: None,
        }
    }

    fn internal() -> Self {
        Refusal::new(Code::Internal, Reason::Internal)
    }

    fn at(mut self, field: FieldPath) -> Self {
        self.field = Some(field);
        self
    }

    fn violations(mut self, v: impl IntoIterator<Item = (FieldPath, String)>) -> Self {
        self.violations = v.into_iter().take(MAX_VIOLATIONS).collect();
        self
    }

    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

/// Maps an engine error to the status the client sees.
pub(crate) fn to_status(e: EngineError) -> Status {
    let mut message = e.to_string();
    let r = classify(e);
    if r.reason == Reason::Internal {
        tracing::error!(error = %message, "internal error");
        message = "internal error; see the server log".to_owned();
    }
    if let Some(hint) = r.hint {
        message = format!("{message}; {hint}");
    }
    let mut details = error_info(r.reason, r.field.as_ref());
    for (field, description) in &r.violations {
        details.add_bad_request_violation(field.to_string(), description.clone());
    }
    Status::with_error_details(r.code, message, details)
}

/// A refusal made outside the engine (e.g. by the codec), with its reason.
pub(crate) fn refusal(code: Code, message: &str, reason: Reason) -> Status {
    Status::with_error_details(code, message, error_info(reason, None))
}

/// The failure of a server task; the cause goes to the log only.
pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Status {
    tracing::error!(error = %cause, "internal error");
    refusal(
        Code::Internal,
        "internal error; see the server log",
        Reason::Internal,
    )
}

fn error_info(reason: Reason, field: Option<&FieldPath>) -> ErrorDetails {
    let metadata: HashMap<String, String> = field
        .map(|f| ("field".to_owned(), f.to_string()))
        .into_iter()
        .collect();
    let mut details = ErrorDetails::new();
    details.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    details
}

/// Code, reason and details of each error. Exhaustive on purpose, with no
/// wildcard arm: a new error must be given its answer here.
fn classify(e: EngineError) -> Refusal {
    match e {
        EngineError::DatasetNotFound { field } => {
            Refusal::new(Code::NotFound, Reason::DatasetNotFound).at(field)
        }
        EngineError::ColumnNotFound { field, .. } => {
            Refusal::new(Code::NotFound, Reason::ColumnNotFound).at(field)
        }
        EngineError::CodeListNotFound { field } => {
            Refusal::new(Code::NotFound, Reason::CodeListNotFound).at(field)
        }
        EngineError::InvalidCodeList(problems) => {
            Refusal::new(Code::InvalidArgument, Reason::InvalidCodeList)
                .violations(problems.into_iter().map(|p| (p.field, p.reason)))
        }
        EngineError::DatasetExists(_) => Refusal::new(Code::AlreadyExists, Reason::DatasetExists),
        EngineError::InvalidDefinition(problems) => {
            Refusal::new(Code::InvalidArgument, Reason::InvalidDefinition)
                .violations(problems.into_iter().map(|p| (p.field, p.reason)))
        }
        EngineError::InvalidRequest { field, reason } => {
            Refusal::new(Code::InvalidArgument, Reason::InvalidRequest)
                .violations([(field, reason)])
        }
        EngineError::Upload(u) => upload_refusal(u),
        EngineError::HasData(_) => Refusal::new(Code::FailedPrecondition, Reason::DatasetHasData),
        EngineError::NoData(_) => Refusal::new(Code::FailedPrecondition, Reason::DatasetHasNoData),
        EngineError::IndexFull(_) => Refusal::new(Code::ResourceExhausted, Reason::PersonIndexFull),
        EngineError::Refused(_) => {
            Refusal::new(Code::FailedPrecondition, Reason::PopulationDifferencing)
        }
        EngineError::OverBudget(BudgetExceeded::UnsafeCells { .. }) => {
            Refusal::new(Code::ResourceExhausted, Reason::TooManyUnsafeCells)
        }
        EngineError::OverBudget(BudgetExceeded::Work(_)) => {
            Refusal::new(Code::ResourceExhausted, Reason::AttackerBudget)
        }
        EngineError::Busy { .. } => {
            Refusal::new(Code::ResourceExhausted, Reason::AttackerChecksBusy)
        }
        EngineError::Disclosure(DisclosureError::Attacker(AttackerError::Unprotectable {
            ..
        })) => Refusal::new(Code::FailedPrecondition, Reason::TableUnprotectable).hint(TABLE_HINT),
        EngineError::UploadBroken(b) => broken_upload_refusal(b),
        EngineError::UploadLimit(_) => Refusal::new(Code::ResourceExhausted, Reason::UploadLimit),
        EngineError::UploadIdReused => Refusal::new(Code::AlreadyExists, Reason::UploadIdReused)
            .at(FieldPath::new("header").field("upload_id")),
        EngineError::KeyMismatch(..) | EngineError::KeyGone(..) => {
            Refusal::new(Code::FailedPrecondition, Reason::KeyMismatch)
        }
        EngineError::Denied(_) => Refusal::new(Code::PermissionDenied, Reason::PermissionDenied),
        EngineError::ProjectNotFound { field } => {
            Refusal::new(Code::NotFound, Reason::ProjectNotFound).at(field)
        }
        EngineError::ProjectExists => Refusal::new(Code::AlreadyExists, Reason::ProjectExists),
        EngineError::ProjectClosed => Refusal::new(Code::FailedPrecondition, Reason::ProjectClosed),
        EngineError::NotInProject => Refusal::new(Code::FailedPrecondition, Reason::NotInProject)
            .at(FieldPath::new("dataset")),
        EngineError::ReleaseNotFound { field } => {
            Refusal::new(Code::NotFound, Reason::ReleaseNotFound).at(field)
        }
        EngineError::Store(StoreError::LogRange(_)) => {
            Refusal::new(Code::OutOfRange, Reason::LogOutOfRange)
        }
        EngineError::Store(StoreError::LogTampered(_)) => {
            Refusal::new(Code::DataLoss, Reason::LogTampered)
        }
        EngineError::Keys(_) => Refusal::internal(),
        EngineError::Store(_)
        | EngineError::Disclosure(_)
        | EngineError::Random
        | EngineError::Policy(_)
        | EngineError::PTable(_) => Refusal::internal(),
    }
}

fn upload_refusal(e: UploadError) -> Refusal {
    match e {
        UploadError::Header(problems) => Refusal::new(Code::InvalidArgument, Reason::InvalidHeader)
            .violations(row_violations(problems)),
        UploadError::InvalidRows { problems, .. } => {
            Refusal::new(Code::InvalidArgument, Reason::InvalidRows)
                .violations(row_violations(problems))
        }
        UploadError::NoRows => Refusal::new(Code::InvalidArgument, Reason::NoRows),
    }
}

fn broken_upload_refusal(b: BrokenUpload) -> Refusal {
    match b {
        BrokenUpload::Idle(_) => Refusal::new(Code::DeadlineExceeded, Reason::UploadIdle),
        BrokenUpload::Stream => Refusal::new(Code::Cancelled, Reason::UploadBrokenOff),
        BrokenUpload::NoEnd => Refusal::new(Code::InvalidArgument, Reason::UploadIncomplete),
        BrokenUpload::SizeMismatch | BrokenUpload::DigestMismatch => {
            Refusal::new(Code::InvalidArgument, Reason::UploadMismatch)
        }
        BrokenUpload::Protocol(_) => Refusal::new(Code::InvalidArgument, Reason::UploadProtocol),
    }
}

fn row_violations(problems: Vec<RowProblem>) -> impl Iterator<Item = (FieldPath, String)> {
    problems
        .into_iter()
        .map(|p| (FieldPath::upload(p.row, p.column.as_deref()), p.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(s: &Status) -> String {
        s.get_details_error_info().expect("error info").reason
    }

    #[test]
    fn table_refusals_that_no_request_reaches_easily_have_their_reasons() {
        let s = to_status(EngineError::OverBudget(BudgetExceeded::UnsafeCells {
            cells: 9,
            limit: 3,
        }));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(reason_of(&s), "TOO_MANY_UNSAFE_CELLS");
        assert!(s.message().contains("coarsen"), "{}", s.message());
        let s = to_status(EngineError::Disclosure(DisclosureError::Attacker(
            AttackerError::Unprotectable { cell: 4 },
        )));
        assert_eq!(reason_of(&s), "TABLE_UNPROTECTABLE");
    }

    #[test]
    fn internal_errors_say_nothing_but_internal() {
        let s = to_status(EngineError::Random);
        assert_eq!(s.code(), Code::Internal);
        assert_eq!(reason_of(&s), "INTERNAL");
        assert_eq!(s.message(), "internal error; see the server log");
    }
}
