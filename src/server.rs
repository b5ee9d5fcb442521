//! Builds and runs the whole server: key, engine, gRPC services (ingest,
//! classifications, release), health and reflection. `ddc serve`,
//! `ddc demo` and the tests all start it through [`run`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

/// HTTP/2 stream window the server advertises: two of an upload's 4 MB
/// blocks. A connection's window is twice that.
const STREAM_WINDOW: u32 = 8 << 20;

use crate::disclosure::DisclosurePolicy;
use crate::engine::{AttackerHook, Engine, EngineError, RotationPause, TableLimits, TestHook};
use crate::keys::{open_key_store, CreateKey, KeyCustody, KeyError, KeyOrigin};
use crate::keystore::{KeyPurpose, MasterKeySource};
use crate::proto::{
    admin_server::AdminServer, audit_server::AuditServer,
    classifications_server::ClassificationsServer, ingest_server::IngestServer,
    projects_server::ProjectsServer, release_server::ReleaseServer, FILE_DESCRIPTOR_SET,
};
use crate::service::{
    AdminService, AuditService, ClassificationService, Edge, Identification, IngestService,
    ProjectService, ReleaseService, UploadLimits,
};
use crate::store::{Store, StoreError};
use crate::tls::Transport;

/// Largest message the upload stream accepts: a 1 MiB chunk with room to spare.
pub const MAX_UPLOAD_MESSAGE: usize = 4 << 20;
/// Size of the chunks the ddc client sends.
pub const UPLOAD_CHUNK: usize = 1 << 20;
/// Largest table response (a maximal table is well under this).
pub const MAX_RELEASE_MESSAGE: usize = 32 << 20;
/// Largest request the release service accepts.
pub const MAX_RELEASE_REQUEST: usize = 1 << 20;

/// What the server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// Where the key store lives; never inside `data_dir`.
    pub key_dir: PathBuf,
    /// The master key that unseals the key store.
    pub master_key: MasterKeySource,
    /// Whether a new data store may get a new key store on first start
    /// (the demo, the examples, the tests); `ddc serve` never does: its
    /// keys come from `ddc keys init`.
    pub create_keys: bool,
    /// The disclosure policy for every release.
    pub policy: DisclosurePolicy,
    /// How many uploads may be open, and how long one may stay silent.
    pub upload_limits: UploadLimits,
    /// What one table may cost: request sizes, the attacker check's work budget and
    /// how many attacker checks run at once.
    pub table_limits: TableLimits,
    /// Called before each attacker check starts, with its slot held: for
    /// tests that need an attacker check in progress. `None` in production.
    pub attacker_hook: Option<AttackerHook>,
    /// Called when an upload is sealed, before it takes the store lock to
    /// write: for tests that need an upload in its commit. `None` in
    /// production.
    pub sealed_hook: Option<TestHook>,
    /// Where a storage key rotation stops for good, so that a crash test
    /// can kill the server there. `None` in production.
    pub rotation_pause: RotationPause,
    /// The origin line (and key name) of the log's checkpoints: a name
    /// unique to this deployment, e.g. `ddc.cbs.nl/log`.
    pub log_origin: String,
    /// TLS with client certificates, or plaintext for development on
    /// loopback (the default of this constructor, for tests and the demo).
    pub transport: Transport,
}

impl ServerConfig {
    /// A configuration with every limit at its default, the parallelism
    /// (attacker-check threads, checks at once) that of this machine, and a
    /// throwaway master key that may create a key store.
    pub fn new(data_dir: PathBuf, key_dir: PathBuf, policy: DisclosurePolicy) -> Self {
        ServerConfig {
            data_dir,
            key_dir,
            master_key: MasterKeySource::ephemeral(),
            create_keys: true,
            policy,
            upload_limits: UploadLimits::default(),
            table_limits: TableLimits::default().with_parallelism(machine_parallelism()),
            attacker_hook: None,
            sealed_hook: None,
            rotation_pause: None,
            log_origin: crate::audit::DEFAULT_ORIGIN.to_owned(),
            transport: Transport::PlaintextDevelopment,
        }
    }
}

/// The machine's available parallelism (1 when unknown): read once, here at
/// the edge, and passed down as configuration.
pub fn machine_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The key could not be loaded or created.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// The store could not be opened.
    #[error("store: {0}")]
    Engine(#[from] EngineError),
    /// Serving failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// TLS could not be set up, or plaintext was asked off loopback.
    #[error("transport: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Reflection could not be set up.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A start-up task panicked.
    #[error("start-up task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Opens the key and the store, then serves on `listener` until `shutdown`
/// completes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let upload_limits = config.upload_limits;
    let listen = listener.local_addr().map_err(|e| {
        ServerError::Tls(crate::tls::TlsError::Read {
            path: "listener".into(),
            source: e,
        })
    })?;
    let tls = config.transport.server_config(listen)?;
    let identification = match &config.transport {
        Transport::Tls(t) => Identification::Certificates(t.deny.clone()),
        Transport::PlaintextDevelopment => Identification::Development,
    };
    let engine = match tokio::task::spawn_blocking(move || open_engine(&config)).await? {
        Ok(engine) => Arc::new(engine),
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return Err(e);
        }
    };
    tracing::info!(
        persons = engine.persons(),
        households = engine.households(),
        datasets = engine.datasets().len(),
        "store loaded"
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<IngestServer<IngestService>>().await;
    health.set_serving::<ReleaseServer<ReleaseService>>().await;
    health
        .set_serving::<ClassificationsServer<ClassificationService>>()
        .await;
    health.set_serving::<AdminServer<AdminService>>().await;
    health.set_serving::<AuditServer<AuditService>>().await;
    health.set_serving::<ProjectsServer<ProjectService>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc.ErrorInfo and BadRequest (with google.protobuf.Any
            // and Duration), so grpcurl and buf curl can show error details.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let ingest = IngestServer::new(IngestService::new(Arc::clone(&engine), upload_limits))
        .max_decoding_message_size(MAX_UPLOAD_MESSAGE);
    let classifications =
        ClassificationsServer::new(ClassificationService::new(Arc::clone(&engine)));
    let admin = AdminServer::new(AdminService::new(Arc::clone(&engine)));
    let audit = AuditServer::new(AuditService::new(Arc::clone(&engine)));
    let projects = ProjectsServer::new(ProjectService::new(Arc::clone(&engine)));
    let logger = Arc::clone(&engine);
    let release = ReleaseServer::new(ReleaseService::new(engine))
        .max_decoding_message_size(MAX_RELEASE_REQUEST)
        .max_encoding_message_size(MAX_RELEASE_MESSAGE);

    tracing::info!(addr = ?listener.local_addr().ok(), "serving");
    crate::notify::ready();
    // HTTP/2's default windows (64 KB) let a client send only that much
    // while the server parses a block of an upload: the transfer and the
    // parse then take turns. These windows let about two blocks arrive
    // meanwhile, per stream and per connection.
    let mut builder = Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(2 * STREAM_WINDOW);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    } else {
        tracing::info!("plaintext on loopback: every caller is the development identity");
    }
    builder
        .layer(Edge::new(identification))
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(classifications)
        .add_service(admin)
        .add_service(audit)
        .add_service(ingest)
        .add_service(projects)
        .add_service(release)
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    crate::notify::stopping();
    let stopped =
        tokio::task::spawn_blocking(move || logger.log_stopped(std::time::SystemTime::now()));
    serve_tampered(stopped.await?)?;
    Ok(())
}

fn open_engine(config: &ServerConfig) -> Result<Engine, ServerError> {
    let store = Store::open(&config.data_dir).map_err(EngineError::from)?;
    // A store that holds persons was written under some key: making a new
    // one would silently stop every later upload from linking.
    let written = store.holds_persons().map_err(EngineError::from)?
        || store
            .store_key(KeyPurpose::Hash)
            .map_err(EngineError::from)?
            .is_some();
    let create = if written || !config.create_keys {
        CreateKey::Never
    } else {
        CreateKey::IfMissing
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if let MasterKeySource::File(path) = &config.master_key {
        let inside = std::fs::canonicalize(path)
            .ok()
            .zip(std::fs::canonicalize(&config.data_dir).ok())
            .is_some_and(|(m, d)| m.starts_with(d));
        if inside {
            return Err(KeyError::MasterKeyInDataDir(path.clone()).into());
        }
    }
    let (keys, origin) = config
        .master_key
        .with(|master| open_key_store(&config.key_dir, &config.data_dir, master, create, now_ms))?;
    if origin == KeyOrigin::Created {
        // Only servers allowed to create keys (the demo, tests) get here.
        tracing::info!(
            key_dir = %config.key_dir.display(),
            "created a key store with fresh keys"
        );
    }
    let custody = KeyCustody::new(keys, config.master_key.clone());
    let engine = Engine::open(store, custody, config.policy, &config.log_origin)?
        .with_table_limits(config.table_limits)
        .with_attacker_hook(config.attacker_hook.clone())
        .with_sealed_hook(config.sealed_hook.clone())
        .with_rotation_pause(config.rotation_pause.clone());
    if engine.rotation_pending() {
        let rotation = engine
            .rotate_storage_key(&crate::auth::Caller::server(), std::time::SystemTime::now())?;
        tracing::warn!(
            from = rotation.from.0,
            to = rotation.to.0,
            "completed a storage key rotation that a restart interrupted"
        );
    }
    serve_tampered(engine.log_started(std::time::SystemTime::now()))?;
    Ok(engine)
}

/// A log that no longer matches its signed checkpoints is served anyway,
/// so that auditors can read and verify it; every change is refused (its
/// entry cannot be appended) until they have. Other errors pass.
/// The accepted connections, each with `TCP_NODELAY` (`serve_with_incoming`
/// ignores the builder's setting). Without it, a response's last HTTP/2
/// frame waited for the client's delayed acknowledgement of the one
/// before: about 40 ms on every table.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

fn serve_tampered(logged: Result<(), EngineError>) -> Result<(), EngineError> {
    match logged {
        Err(EngineError::Store(StoreError::LogTampered(why))) => {
            tracing::error!(
                why,
                "the linkage log does not match its signed checkpoints: serving it read-only"
            );
            Ok(())
        }
        other => other,
    }
}

/// A server on an ephemeral loopback port, running in the background: what
/// `ddc demo`, the examples and the tests start.
#[derive(Debug)]
pub struct LocalServer {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl LocalServer {
    /// Binds 127.0.0.1:0 and starts serving `config` in a background task.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(run(listener, config, async {
            let _ = stopped.await;
        }));
        Ok(LocalServer { url, stop, handle })
    }

    /// The address clients connect to, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects a client, waiting (up to five seconds) for the server to
    /// open its store and start serving: its health service answers only
    /// then (the port accepts connections before).
    pub async fn connect(&self) -> Result<crate::client::Clients, tonic::transport::Error> {
        use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let channel = tonic::transport::Endpoint::from_shared(self.url.clone())?
                .connect()
                .await;
            let serving = match &channel {
                Ok(channel) => {
                    let mut health = HealthClient::new(channel.clone());
                    let check = health.check(HealthCheckRequest::default());
                    tokio::time::timeout_at(deadline, check)
                        .await
                        .is_ok_and(|r| r.is_ok())
                }
                Err(_) => false,
            };
            if serving || self.handle.is_finished() || tokio::time::Instant::now() >= deadline {
                return channel.map(crate::client::Clients::new);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Stops the server and waits for it; returns how it ended.
    pub async fn stop(self) -> Result<(), ServerError> {
        let _ = self.stop.send(());
        self.handle.await?
    }
}
