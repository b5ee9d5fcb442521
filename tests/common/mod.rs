//! Shared helpers: a real server on 127.0.0.1:0 with its own temporary
//! directories, synthetic identifiers, and small request builders.
#![allow(dead_code)]

pub mod pki;

use std::io::Cursor;
use std::path::Path;

use ddc::client::{self, Clients};
use ddc::disclosure::DisclosurePolicy;
use ddc::keystore::{MasterKey, MasterKeySource};
use ddc::proto::{self, CreateDatasetRequest, Filter, TableRequest, UploadHeader, UploadReceipt};
use ddc::server::{LocalServer, ServerConfig};
use ddc::service::UploadLimits;
use tempfile::TempDir;

/// The test servers' master key file, in their key directory.
pub const TEST_MASTER_KEY: &str = "test-master.key";

/// A key directory whose key store holds `key` as its hash key (and the
/// test master key file that unseals it).
pub fn key_dir_with(key: [u8; 32]) -> TempDir {
    let key_dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    master
        .write_new_file(&key_dir.path().join(TEST_MASTER_KEY))
        .unwrap();
    let known = ddc::keys::PseudonymKey::from_bytes(key);
    ddc::keystore::KeyStore::init_with_key(key_dir.path(), &master, known, 0).unwrap();
    key_dir
}

/// The active storage key of the key store in `key_dir` (opened with the
/// test master key file there): for tests that read sealed pseudonyms.
#[allow(dead_code)]
pub fn storage_key(key_dir: &std::path::Path) -> ddc::sealing::StorageKey {
    let master = MasterKey::from_file(&key_dir.join(TEST_MASTER_KEY)).unwrap();
    let keys = ddc::keystore::KeyStore::open(key_dir, &master).unwrap();
    let (version, key) = keys.active(ddc::keystore::KeyPurpose::Storage).unwrap();
    ddc::sealing::StorageKey::new(key, version)
}

/// Every sealed pseudonym in the store of `data_dir`, persons then
/// households, with the storage key versions of their chunks.
#[allow(dead_code)]
pub fn sealed_pseudonyms(data_dir: &std::path::Path) -> (Vec<[u8; 16]>, Vec<u32>) {
    let conn = rusqlite::Connection::open(data_dir.join(ddc::store::DB_FILE)).unwrap();
    let mut sealed = Vec::new();
    let mut versions = Vec::new();
    for table in ["person_chunks", "household_chunks"] {
        let mut stmt = conn
            .prepare(&format!("SELECT key_version, pseudonyms FROM {table}"))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            versions.push(row.get::<_, u32>(0).unwrap());
            let blob: Vec<u8> = row.get(1).unwrap();
            sealed.extend(blob.chunks(16).map(|c| <[u8; 16]>::try_from(c).unwrap()));
        }
    }
    (sealed, versions)
}

/// A running server and a connected client.
pub struct TestServer {
    pub clients: Clients,
    pub url: String,
    pub data_dir: TempDir,
    pub key_dir: TempDir,
    server: LocalServer,
    pub policy: DisclosurePolicy,
}

impl TestServer {
    /// Starts a server on fresh directories.
    pub async fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()).await
    }

    /// Starts a server on fresh directories with `policy`.
    pub async fn start_with_policy(policy: DisclosurePolicy) -> Self {
        Self::start_full(
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            policy,
        )
        .await
    }

    /// Starts a server on fresh directories with `limits` on uploads.
    pub async fn start_with_limits(limits: UploadLimits) -> Self {
        Self::start_configured(DisclosurePolicy::default(), |c| c.upload_limits = limits).await
    }

    /// Starts a server on existing directories (e.g. after a restart).
    pub async fn start_in(data_dir: TempDir, key_dir: TempDir) -> Self {
        Self::start_full(data_dir, key_dir, DisclosurePolicy::default()).await
    }

    /// The configuration of a test server on these directories. Its
    /// master key is a file in the key directory (made on first use), so
    /// that a restart on the same directories opens the same key store.
    pub fn config(data_dir: &TempDir, key_dir: &TempDir, policy: DisclosurePolicy) -> ServerConfig {
        let master = key_dir.path().join(TEST_MASTER_KEY);
        if !master.exists() {
            MasterKey::generate()
                .unwrap()
                .write_new_file(&master)
                .unwrap();
        }
        let mut config = ServerConfig::new(
            data_dir.path().to_path_buf(),
            key_dir.path().to_path_buf(),
            policy,
        );
        config.master_key = MasterKeySource::File(master);
        config
    }

    /// Starts a server on fresh directories with `policy`, its
    /// configuration changed by `configure` (kept for this run only, not
    /// across a restart).
    pub async fn start_configured(
        policy: DisclosurePolicy,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let (data_dir, key_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        Self::start_with(data_dir, key_dir, policy, configure).await
    }

    async fn start_full(data_dir: TempDir, key_dir: TempDir, policy: DisclosurePolicy) -> Self {
        Self::start_with(data_dir, key_dir, policy, |_| {}).await
    }

    async fn start_with(
        data_dir: TempDir,
        key_dir: TempDir,
        policy: DisclosurePolicy,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let mut config = Self::config(&data_dir, &key_dir, policy);
        configure(&mut config);
        let server = LocalServer::start(config).await.unwrap();
        let clients = match server.connect().await {
            Ok(clients) => clients,
            Err(e) => panic!(
                "the server does not start: {e}; it ended with {:?}",
                server.stop().await
            ),
        };
        let url = server.url().to_owned();
        TestServer {
            clients,
            url,
            data_dir,
            key_dir,
            server,
            policy,
        }
    }

    /// Restarts the server on the same directories and policy.
    pub async fn restart(self) -> Self {
        let policy = self.policy;
        let (data_dir, key_dir) = self.stop().await;
        Self::start_full(data_dir, key_dir, policy).await
    }

    /// Stops the server and hands back its directories.
    pub async fn stop(self) -> (TempDir, TempDir) {
        drop(self.clients);
        self.server.stop().await.unwrap();
        (self.data_dir, self.key_dir)
    }

    /// Declares a dataset from column specs such as `niveau:cat:havo,vwo`.
    pub async fn create(&mut self, name: &str, identifier: &str, columns: &[&str]) {
        self.try_create(name, identifier, columns).await.unwrap();
    }

    pub async fn try_create(
        &mut self,
        name: &str,
        identifier: &str,
        columns: &[&str],
    ) -> Result<proto::Dataset, tonic::Status> {
        self.try_create_with_households(name, identifier, "", columns)
            .await
    }

    /// Declares a dataset with a household identifier column (`""` for none).
    pub async fn try_create_with_households(
        &mut self,
        name: &str,
        identifier: &str,
        household: &str,
        columns: &[&str],
    ) -> Result<proto::Dataset, tonic::Status> {
        let columns = columns
            .iter()
            .map(|c| ddc::cli::parse_column_spec(c).unwrap())
            .collect();
        let request = CreateDatasetRequest {
            name: name.into(),
            organisation: name.split('.').next().unwrap().into(),
            schema: Some(proto::Schema {
                identifier_column: identifier.into(),
                household_column: household.into(),
                columns,
                ..Default::default()
            }),
        };
        self.clients
            .ingest
            .create_dataset(request)
            .await
            .map(|r| r.into_inner())
    }

    /// Uploads CSV text.
    pub async fn upload(
        &mut self,
        dataset: &str,
        csv: &str,
    ) -> Result<UploadReceipt, tonic::Status> {
        self.upload_with(dataset, csv, false, false).await
    }

    pub async fn upload_with(
        &mut self,
        dataset: &str,
        csv: &str,
        skip_invalid: bool,
        replace: bool,
    ) -> Result<UploadReceipt, tonic::Status> {
        let header = UploadHeader {
            dataset: dataset.into(),
            skip_invalid,
            replace,
            upload_id: client::new_upload_id(),
            ..Default::default()
        };
        client::upload(
            &mut self.clients.ingest,
            header,
            Cursor::new(csv.as_bytes().to_vec()),
            |_| {},
        )
        .await
    }

    /// Asks for a table.
    pub async fn table(&mut self, request: TableRequest) -> Result<proto::Table, tonic::Status> {
        self.clients
            .release
            .tabulate(request)
            .await
            .map(|r| r.into_inner())
    }

    /// The dataset's version (0 means nothing stored).
    pub async fn version(&mut self, dataset: &str) -> u64 {
        let d = self
            .clients
            .ingest
            .get_dataset(proto::GetDatasetRequest {
                name: dataset.into(),
            })
            .await;
        d.unwrap().into_inner().version
    }
}

/// A table request grouped by `by`, filtered by `filters` (`var=A,B`).
pub fn table_request(by: &[&str], filters: &[(&str, &[&str])]) -> TableRequest {
    TableRequest {
        group_by: by.iter().map(|s| s.to_string()).collect(),
        filters: filters
            .iter()
            .map(|(v, values)| Filter {
                variable: v.to_string(),
                values: values.iter().map(|s| s.to_string()).collect(),
                negate: false,
            })
            .collect(),
        datasets: vec![],
        ..Default::default()
    }
}

/// The weighted eleven-test sum, written independently of the library.
pub fn eleven_sum(digits: &str) -> i64 {
    let d: Vec<i64> = digits.bytes().map(|b| i64::from(b - b'0')).collect();
    (0..8).map(|i| (9 - i as i64) * d[i]).sum::<i64>() - d[8]
}

/// The `n` smallest valid BSNs from 900000000 up (synthetic test range).
pub fn bsns(n: usize) -> Vec<String> {
    (900_000_000u64..)
        .map(|x| x.to_string())
        .filter(|s| eleven_sum(s).rem_euclid(11) == 0)
        .take(n)
        .collect()
}

/// Finds `(count, status)` of the cell at `coords` (-1 for a total).
pub fn cell(table: &proto::Table, coords: &[i32]) -> (Option<u64>, proto::CellStatus) {
    let c = table
        .cells
        .iter()
        .find(|c| c.coordinates == coords)
        .expect("cell exists");
    (c.count, proto::CellStatus::try_from(c.status).unwrap())
}

/// Runs a scalar query on the server's database (read-only, concurrently).
pub fn db_scalar(data_dir: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join(ddc::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Persons stored.
pub fn db_persons(data_dir: &Path) -> i64 {
    db_scalar(
        data_dir,
        "SELECT coalesce(sum(count), 0) FROM person_chunks",
    )
}

/// Rows stored across all datasets (each row has one 4-byte person number).
pub fn db_rows(data_dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join(ddc::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT packing, data FROM column_chunks WHERE column_index = -1")
        .unwrap();
    let chunks = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap();
    // A packed chunk counts its values in bytes 1 to 4; a fixed-width one
    // holds 4 bytes a person.
    chunks
        .map(|c| match c.unwrap() {
            (0, data) => data.len() as i64 / 4,
            (_, data) => i64::from(u32::from_le_bytes(data[1..5].try_into().unwrap())),
        })
        .sum()
}

/// A policy that releases exact values (no perturbation), for tests that
/// check counts by hand.
pub fn exact_policy() -> DisclosurePolicy {
    DisclosurePolicy {
        perturbation: None,
        ..DisclosurePolicy::default()
    }
}

/// Everything a status tells the client, for "never says" checks: the
/// message and every decoded detail (field violations, error info...).
pub fn said(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    format!("{} {:?}", status.message(), status.get_error_details())
}

/// `(reason, metadata field)` of the status's ErrorInfo, checking the domain.
pub fn reason(status: &tonic::Status) -> (String, Option<String>) {
    use tonic_types::StatusExt;
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"));
    assert_eq!(info.domain, "ddc.v1");
    (info.reason, info.metadata.get("field").cloned())
}

/// The fields of the status's BadRequest violations.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The server address in a `serving` log line of `ddc serve`.
pub fn loopback_url(line: &str) -> String {
    let at = line.find("127.0.0.1:").expect("a loopback address");
    let port: String = line[at + 10..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    format!("http://127.0.0.1:{port}")
}

/// `ddc serve` in development plaintext on a loopback port over `data` and
/// `keys`, no master key given yet (add `--master-key-file` or not).
pub fn serve_command(data: &Path, keys: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ddc"));
    command
        .args([
            "serve",
            "--insecure-plaintext-dev",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--key-dir")
        .arg(keys)
        .env_remove("DDC_MASTER_KEY")
        .env_remove("DDC_MASTER_KEY_FILE");
    command
}

/// [`serve_command`] with the test master key of `keys`.
pub fn serve_with_master_key(data: &Path, keys: &Path) -> std::process::Command {
    let mut command = serve_command(data, keys);
    command
        .arg("--master-key-file")
        .arg(keys.join(TEST_MASTER_KEY));
    command
}

/// Runs the `ddc` binary as a user would, without the caller's `DDC_SERVER`
/// or `DDC_TIMEOUT`.
pub fn ddc_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_SERVER")
        .env_remove("DDC_TIMEOUT")
        .output()
        .unwrap()
}
