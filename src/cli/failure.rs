//! Why a command failed, and its exit code: a local problem, a server that
//! cannot be reached, or a server that refused.
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | a local error: a file that cannot be read or written, TLS files, a configuration file |
//! | 2 | a usage error: an unknown flag, a missing or malformed argument (clap's) |
//! | 3 | the server cannot be reached, or did not answer in time |
//! | 4 | the server refused the request (its gRPC code and reason are printed) |

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Exit code of a local error.
pub const EXIT_LOCAL: u8 = 1;
/// Exit code of a server that cannot be reached or does not answer.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code of a refusal by the server.
pub const EXIT_REFUSED: u8 = 4;

/// The server could not be reached, or did not answer in time.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the server at {url} ({cause}); is `ddc serve` running there, and are --server (DDC_SERVER) and the TLS settings right?")]
pub(super) struct Unreachable {
    /// The address tried.
    pub(super) url: String,
    /// What went wrong, in words.
    pub(super) cause: String,
}

/// The server refused a request.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub(super) struct Refused {
    context: String,
    status: Status,
    fields: fn(&str) -> String,
}

impl Refused {
    /// A refusal of `context`, naming fields with `fields` (a request
    /// field path to the flag that set it).
    pub(super) fn new(context: &str, status: Status, fields: fn(&str) -> String) -> Self {
        Refused {
            context: context.to_owned(),
            status,
            fields,
        }
    }

    /// Whether the client gave up waiting (tonic's request timeout
    /// answers `CANCELLED`, "Timeout expired").
    fn timed_out(&self) -> bool {
        let s = &self.status;
        s.code() == Code::DeadlineExceeded
            || (s.code() == Code::Cancelled && s.message() == "Timeout expired")
    }

    fn describe(&self) -> String {
        let s = &self.status;
        if self.timed_out() {
            return format!(
                "{}: the server did not answer within the timeout (--timeout, DDC_TIMEOUT)",
                self.context
            );
        }
        let reason = s
            .get_details_error_info()
            .map(|i| format!(", {}", i.reason))
            .unwrap_or_default();
        let violations = s
            .get_details_bad_request()
            .map(|b| b.field_violations)
            .unwrap_or_default();
        let mut message = s.message().to_owned();
        for v in &violations {
            message = message.replace(&v.field, &(self.fields)(&v.field));
        }
        let mut text = format!(
            "{}: {message} ({}{reason})",
            self.context,
            code_name(s.code())
        );
        // A message that is its one violation says it already.
        let said = violations.len() == 1
            && s.message() == format!("{}: {}", violations[0].field, violations[0].description);
        if !said {
            for v in &violations {
                text.push_str(&format!(
                    "\n  {}: {}",
                    (self.fields)(&v.field),
                    v.description
                ));
            }
        }
        text
    }
}

/// A field path as it is: for commands whose fields are their flags' names.
pub(super) fn as_is(field: &str) -> String {
    upload_place(field).unwrap_or_else(|| field.to_owned())
}

/// `rows[12].pgn` as `row 12, column pgn`; `header.x` as `header, column x`.
fn upload_place(field: &str) -> Option<String> {
    if let Some(rest) = field.strip_prefix("rows[") {
        let (row, column) = rest.split_once(']')?;
        return Some(match column.strip_prefix('.') {
            Some(c) => format!("row {row}, column {c}"),
            None => format!("row {row}"),
        });
    }
    field
        .strip_prefix("header.")
        .map(|c| format!("header, column {c}"))
}

/// The exit code `e` calls for.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<Unreachable>() {
            return EXIT_UNREACHABLE;
        }
        if let Some(r) = cause.downcast_ref::<Refused>() {
            return match r.status.code() {
                Code::Unavailable => EXIT_UNREACHABLE,
                _ if r.timed_out() => EXIT_UNREACHABLE,
                _ => EXIT_REFUSED,
            };
        }
    }
    EXIT_LOCAL
}

/// Whether `e` is standard output closed by its reader (`ddc audit log |
/// head`): the reader has what it wanted, so the command ends quietly.
pub fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `e` and its causes, each said once: a cause whose text its error
/// already includes is not repeated.
pub fn report(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let said = cause.to_string();
        if !text.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
    }
    text
}

/// The canonical name of a gRPC code (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_closing_the_pipe_ends_the_command_quietly() {
        let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(closed_pipe(&anyhow::Error::new(closed).context("log")));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!closed_pipe(&anyhow::Error::new(denied)));
        assert!(!closed_pipe(&anyhow::anyhow!("broken pipe")));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading key.pem: Permission denied (os error 13)")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from_raw_os_error(13);
        let e = anyhow::Error::new(Outer(io)).context("cannot start");
        assert_eq!(
            report(&e),
            "cannot start: reading key.pem: Permission denied (os error 13)"
        );
        assert_eq!(exit_code(&e), EXIT_LOCAL);
    }

    #[test]
    fn refusals_and_unreachable_servers_have_their_own_exit_codes() {
        let refused = Refused::new("table refused", Status::not_found("no dataset"), as_is);
        let text = refused.to_string();
        assert!(text.contains("(NOT_FOUND)"), "{text}");
        assert_eq!(exit_code(&anyhow::Error::new(refused)), EXIT_REFUSED);
        let gone = Refused::new("x", Status::unavailable("connection reset"), as_is);
        assert_eq!(exit_code(&anyhow::Error::new(gone)), EXIT_UNREACHABLE);
        let e = anyhow::Error::new(Unreachable {
            url: "http://127.0.0.1:1".into(),
            cause: "connection refused".into(),
        });
        assert_eq!(exit_code(&e), EXIT_UNREACHABLE);
        assert!(report(&e).contains("is `ddc serve` running"));
    }

    #[test]
    fn upload_paths_read_as_rows_and_columns() {
        assert_eq!(as_is("rows[12].pgn"), "row 12, column pgn");
        assert_eq!(as_is("rows[3]"), "row 3");
        assert_eq!(as_is("header.niveau"), "header, column niveau");
        assert_eq!(as_is("name"), "name");
    }
}
