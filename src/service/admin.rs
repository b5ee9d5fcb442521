//! The `Admin` gRPC service: key status and storage key rotation.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tonic::{Request, Response, Status};

use super::{authorize, blocking};
use crate::access::Action;
use crate::auth::caller;
use crate::engine::Engine;
use crate::keys::KeyVersion;
use crate::keystore::{active_version, KeyInfo, KeyPurpose};
use crate::proto::{self, admin_server};

/// Serves [`admin_server::Admin`] over the engine.
#[derive(Debug, Clone)]
pub struct AdminService {
    engine: Arc<Engine>,
}

impl AdminService {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        AdminService { engine }
    }
}

#[tonic::async_trait]
impl admin_server::Admin for AdminService {
    async fn key_status(
        &self,
        request: Request<proto::KeyStatusRequest>,
    ) -> Result<Response<proto::KeyStatusResponse>, Status> {
        authorize(&self.engine, &caller(&request), Action::KeyStatus).await?;
        Ok(Response::new(key_status_to_proto(
            &self.engine.key_status(),
        )))
    }

    async fn rotate_storage_key(
        &self,
        request: Request<proto::RotateStorageKeyRequest>,
    ) -> Result<Response<proto::RotateStorageKeyResponse>, Status> {
        let caller = caller(&request);
        authorize(&self.engine, &caller, Action::RotateKeys).await?;
        let engine = Arc::clone(&self.engine);
        let started = Instant::now();
        let rotation =
            blocking(move || engine.rotate_storage_key(&caller, SystemTime::now())).await?;
        Ok(Response::new(proto::RotateStorageKeyResponse {
            from_version: rotation.from.0,
            to_version: rotation.to.0,
            persons: rotation.persons,
            households: rotation.households,
            duration_ms: started.elapsed().as_millis() as u64,
        }))
    }
}

/// The key store's status as the proto message; shared with `ddc keys status`.
pub fn key_status_to_proto(keys: &[KeyInfo]) -> proto::KeyStatusResponse {
    let active = |k: &KeyInfo| active_version(keys, k.purpose) == Some(KeyVersion(k.version));
    proto::KeyStatusResponse {
        keys: keys
            .iter()
            .map(|k| proto::KeyInfo {
                purpose: match k.purpose {
                    KeyPurpose::Hash => proto::KeyPurpose::Hash,
                    KeyPurpose::Storage => proto::KeyPurpose::Storage,
                    KeyPurpose::Signing => proto::KeyPurpose::Signing,
                    KeyPurpose::Audit => proto::KeyPurpose::Audit,
                } as i32,
                version: k.version,
                created_ms: k.created_ms,
                activated_ms: k.activated_ms.unwrap_or(0),
                retired_ms: k.retired_ms.unwrap_or(0),
                active: active(k),
            })
            .collect(),
    }
}
