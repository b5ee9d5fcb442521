//! The one mapping from engine errors to gRPC statuses.
//!
//! Row-level problems travel as `google.rpc.BadRequest` field violations
//! (`row N, column C`). No message ever holds an identifier or pseudonym:
//! the errors mapped here are built without values.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::disclosure::audit::AuditError;
use crate::disclosure::DisclosureError;
use crate::engine::EngineError;
use crate::ingest::{RowProblem, UploadError};

/// Most field violations attached to one status (they travel in a trailer).
const MAX_VIOLATIONS: usize = 50;

/// Maps an engine error to the status the client sees.
pub(crate) fn to_status(e: EngineError) -> Status {
    let message = e.to_string();
    match e {
        EngineError::DatasetNotFound(_) | EngineError::ColumnNotFound { .. } => {
            Status::not_found(message)
        }
        EngineError::DatasetExists(_) => Status::already_exists(message),
        EngineError::InvalidDefinition(problems) => {
            let mut details = ErrorDetails::new();
            for p in problems.iter().take(MAX_VIOLATIONS) {
                details.add_bad_request_violation(p.field.clone(), p.reason.clone());
            }
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        EngineError::Upload(u) => upload_status(u, message),
        EngineError::HasData(_) | EngineError::NoData(_) => Status::failed_precondition(message),
        EngineError::InvalidRequest { field, reason } => {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation(field, reason);
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        EngineError::IndexFull(_) => Status::resource_exhausted(message),
        EngineError::Refused(_) => Status::failed_precondition(message),
        EngineError::OverBudget(_) | EngineError::Busy { .. } => {
            Status::resource_exhausted(message)
        }
        EngineError::Disclosure(DisclosureError::Audit(AuditError::Unprotectable { .. })) => {
            Status::failed_precondition(format!(
                "{message}; the table cannot be released as asked: use fewer or coarser categories"
            ))
        }
        EngineError::Store(_)
        | EngineError::Disclosure(_)
        | EngineError::Random
        | EngineError::Policy(_)
        | EngineError::PTable(_) => {
            tracing::error!(error = %message, "internal error");
            Status::internal("internal error; see the server log")
        }
    }
}

fn upload_status(e: UploadError, message: String) -> Status {
    match e {
        UploadError::Header(problems) | UploadError::InvalidRows { problems, .. } => {
            Status::with_error_details(Code::InvalidArgument, message, violations(&problems))
        }
        UploadError::NoRows | UploadError::Malformed { .. } => Status::invalid_argument(message),
        UploadError::Read(_) => Status::cancelled(message),
    }
}

fn violations(problems: &[RowProblem]) -> ErrorDetails {
    let mut details = ErrorDetails::new();
    for p in problems.iter().take(MAX_VIOLATIONS) {
        let field = match (&p.column, p.row) {
            (Some(c), 0) => format!("header, column {c}"),
            (None, 0) => "header".to_owned(),
            (Some(c), r) => format!("row {r}, column {c}"),
            (None, r) => format!("row {r}"),
        };
        details.add_bad_request_violation(field, p.reason.clone());
    }
    details
}
