//! Who is calling, and the one place that decides what they may do.
//!
//! Until mutual TLS lands every caller is the fixed development identity
//! and every action is allowed; handlers already receive a [`Caller`] and
//! pass it to the engine, which records it in the audit trail.

/// The authenticated caller of an RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    subject: String,
}

impl Caller {
    /// The development identity used until certificates identify callers.
    pub fn development() -> Self {
        Caller {
            subject: "development".into(),
        }
    }

    /// The server itself, for what it does on its own (start-up checks).
    pub fn server() -> Self {
        Caller {
            subject: "server".into(),
        }
    }

    /// The name recorded in the audit trail.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// Identifies the caller of a request.
pub fn caller<T>(_request: &tonic::Request<T>) -> Caller {
    Caller::development()
}

/// Identifies the caller of a request as it arrives, before its service
/// decodes it (for the server's request log): the same answer as [`caller`].
pub fn caller_of_http<B>(_request: &http::Request<B>) -> Caller {
    Caller::development()
}
