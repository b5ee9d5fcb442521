//! `ddc health`: asks a server's `grpc.health.v1` whether it serves, for
//! probes (a Kubernetes exec probe, a load balancer's check). Exits 0 when
//! it does, non-zero otherwise. Over TLS the probe needs a client
//! certificate of its own, like every caller.

use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use super::{channel, ServerArg};

/// Checks the server's health; an error unless it is serving.
pub(super) async fn run(server: ServerArg) -> anyhow::Result<()> {
    let timeout = std::time::Duration::from_secs(server.timeout.max(1));
    let mut client = HealthClient::new(channel(&server, Some(timeout)).await?);
    let status = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|s| super::status_error("health", s))?
        .into_inner()
        .status();
    anyhow::ensure!(status == ServingStatus::Serving, "the server is {status:?}");
    println!("SERVING");
    Ok(())
}
