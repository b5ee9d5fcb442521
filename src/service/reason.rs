//! Why a request was refused, as a stable code: the `reason` of the
//! `google.rpc.ErrorInfo` (domain [`ERROR_DOMAIN`]) that every ddc refusal
//! carries.
//!
//! # API contract
//! A code, once published, keeps its meaning and its spelling
//! ([`Reason::as_str`]); clients may match on it, unlike the message, which
//! is for people and may change. New codes are added (the enum is
//! `#[non_exhaustive]`); a client treats a code it does not know by its gRPC
//! status code alone.

/// The `ErrorInfo.domain` of every ddc refusal.
pub const ERROR_DOMAIN: &str = "ddc.v1";

/// Why a request was refused: the stable code of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The request's bytes are not a message of the method's type.
    MalformedMessage,
    /// A request field is invalid (an unknown enum value included).
    InvalidRequest,
    /// The dataset declaration is invalid.
    InvalidDefinition,
    /// No dataset of the name given.
    DatasetNotFound,
    /// The dataset has no column of the name given.
    ColumnNotFound,
    /// The code list draft is invalid.
    InvalidCodeList,
    /// No code list (or list version) of the name given.
    CodeListNotFound,
    /// A dataset of that name is already declared.
    DatasetExists,
    /// The dataset holds data and the upload does not replace it.
    DatasetHasData,
    /// The dataset holds no data yet.
    DatasetHasNoData,
    /// The upload's header line does not match the schema.
    InvalidHeader,
    /// Rows of the upload are invalid.
    InvalidRows,
    /// The upload holds no (valid) data rows.
    NoRows,
    /// The upload stream broke off.
    UploadBrokenOff,
    /// The upload ended without its closing `UploadEnd`.
    UploadIncomplete,
    /// The closing `UploadEnd` does not match the bytes received.
    UploadMismatch,
    /// Upload messages out of order (a second header, data after the end).
    UploadProtocol,
    /// The upload sent nothing for the server's idle time.
    UploadIdle,
    /// Too many uploads are open.
    UploadLimit,
    /// The upload id was used before for another dataset.
    UploadIdReused,
    /// The server's key is not the one the store was written with.
    KeyMismatch,
    /// The person index has no more person numbers.
    PersonIndexFull,
    /// The table's population differs too little from an earlier release's.
    PopulationDifferencing,
    /// Secondary suppression cannot protect the table as asked.
    TableUnprotectable,
    /// Too many cells of the table are unsafe for one table's attacker check.
    TooManyUnsafeCells,
    /// The table's attacker check would exceed its work budget.
    AttackerBudget,
    /// Too many tables are in the attacker check at once.
    AttackerChecksBusy,
    /// No release of the number given.
    ReleaseNotFound,
    /// No project of the name given.
    ProjectNotFound,
    /// A project of that name exists.
    ProjectExists,
    /// The project is closed.
    ProjectClosed,
    /// The project does not ask for the dataset.
    NotInProject,
    /// The caller's role does not allow the call.
    PermissionDenied,
    /// A log proof or root of more entries than the log holds.
    LogOutOfRange,
    /// The stored log no longer matches its signed checkpoints; the server
    /// signs nothing more until an auditor has looked.
    LogTampered,
    /// A fault of the server; details are in its log only.
    Internal,
}

impl Reason {
    /// The stable code, SCREAMING_SNAKE_CASE, e.g. `POPULATION_DIFFERENCING`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::MalformedMessage => "MALFORMED_MESSAGE",
            Reason::InvalidRequest => "INVALID_REQUEST",
            Reason::InvalidDefinition => "INVALID_DEFINITION",
            Reason::DatasetNotFound => "DATASET_NOT_FOUND",
            Reason::ColumnNotFound => "COLUMN_NOT_FOUND",
            Reason::InvalidCodeList => "INVALID_CODE_LIST",
            Reason::CodeListNotFound => "CODE_LIST_NOT_FOUND",
            Reason::DatasetExists => "DATASET_EXISTS",
            Reason::DatasetHasData => "DATASET_HAS_DATA",
            Reason::DatasetHasNoData => "DATASET_HAS_NO_DATA",
            Reason::InvalidHeader => "INVALID_HEADER",
            Reason::InvalidRows => "INVALID_ROWS",
            Reason::NoRows => "NO_ROWS",
            Reason::UploadBrokenOff => "UPLOAD_BROKEN_OFF",
            Reason::UploadIncomplete => "UPLOAD_INCOMPLETE",
            Reason::UploadMismatch => "UPLOAD_MISMATCH",
            Reason::UploadProtocol => "UPLOAD_PROTOCOL",
            Reason::UploadIdle => "UPLOAD_IDLE",
            Reason::UploadLimit => "UPLOAD_LIMIT",
            Reason::UploadIdReused => "UPLOAD_ID_REUSED",
            Reason::KeyMismatch => "KEY_MISMATCH",
            Reason::PersonIndexFull => "PERSON_INDEX_FULL",
            Reason::PopulationDifferencing => "POPULATION_DIFFERENCING",
            Reason::TableUnprotectable => "TABLE_UNPROTECTABLE",
            Reason::TooManyUnsafeCells => "TOO_MANY_UNSAFE_CELLS",
            Reason::AttackerBudget => "ATTACKER_BUDGET_EXCEEDED",
            Reason::AttackerChecksBusy => "ATTACKER_CHECKS_BUSY",
            Reason::ReleaseNotFound => "RELEASE_NOT_FOUND",
            Reason::PermissionDenied => "PERMISSION_DENIED",
            Reason::ProjectNotFound => "PROJECT_NOT_FOUND",
            Reason::ProjectExists => "PROJECT_EXISTS",
            Reason::ProjectClosed => "PROJECT_CLOSED",
            Reason::NotInProject => "DATASET_NOT_IN_PROJECT",
            Reason::LogOutOfRange => "LOG_OUT_OF_RANGE",
            Reason::LogTampered => "LOG_TAMPERED",
            Reason::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
