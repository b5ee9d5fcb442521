//! Thin tonic adapters: decode a request, identify the caller, call the
//! engine on a blocking thread, encode the answer, map errors in one place.
//! The upload stream ([`UploadLimits`]) awaits the network here, so that no
//! blocking thread waits for bytes.

mod admin;
mod audit;
mod classification;
pub(crate) mod codec;
mod convert;
mod gate;
mod ingest;
mod project;
mod reason;
mod release;
mod status;
mod upload;

pub use admin::{key_status_to_proto, AdminService};
pub use audit::AuditService;
pub use classification::ClassificationService;
pub use gate::{Edge, Gate, Identification, LoggedBody};
pub use ingest::IngestService;
pub use project::ProjectService;
pub use reason::{Reason, ERROR_DOMAIN};
pub use release::ReleaseService;
pub use upload::UploadLimits;

use tonic::Status;

/// The one authorisation decision of a call: allowed, or denied, logged
/// and answered `PERMISSION_DENIED`.
pub(crate) async fn authorize(
    engine: &std::sync::Arc<crate::engine::Engine>,
    caller: &crate::auth::Caller,
    action: crate::access::Action<'_>,
) -> Result<(), Status> {
    let Err(denied) = engine.decide(caller, action) else {
        return Ok(());
    };
    let (engine, caller, name) = (std::sync::Arc::clone(engine), caller.clone(), action.name());
    let now = std::time::SystemTime::now();
    let error = tokio::task::spawn_blocking(move || engine.log_denial(&caller, name, denied, now))
        .await
        .map_err(|e| status::internal(&e))?;
    Err(status::to_status(error))
}

/// A log receipt as the proto message.
pub(crate) fn receipt_to_log(r: crate::audit::Receipt) -> crate::proto::LogReceipt {
    crate::proto::LogReceipt {
        index: r.index,
        checkpoint: r.checkpoint,
    }
}

/// Runs engine work on a blocking thread and maps its error.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Status>
where
    F: FnOnce() -> Result<T, crate::engine::EngineError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| status::internal(&e))?
        .map_err(status::to_status)
}
