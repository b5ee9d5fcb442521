//! A test PKI: a CA, its PEM files, client certificates, a TLS server.

use std::path::PathBuf;
use std::time::Duration;

use ddc::auth::{DenyList, Role};
use ddc::client::Clients;
use ddc::pki::{DevCa, Issued, Validity};
use ddc::proto::{self, ListDatasetsRequest};
use ddc::server::LocalServer;
use ddc::tls::{ClientTls, ServerTls, Transport};

/// PEM files of one test PKI.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: DevCa,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = DevCa::new("test CA").unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
        Pki { dir, ca }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn save(&self, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&cert, &issued.cert_pem).unwrap();
        std::fs::write(&key, &issued.key_pem).unwrap();
        (cert, key)
    }

    pub fn client(
        &mut self,
        name: &str,
        org: &str,
        role: Role,
        validity: Validity,
    ) -> (ClientTls, Issued) {
        let issued = self.ca.issue_client(org, role, name, validity).unwrap();
        let (cert, key) = self.save(name, &issued);
        let tls = ClientTls {
            ca: self.path("ca.pem"),
            cert,
            key,
        };
        (tls, issued)
    }
}

/// A TLS server whose certificate the PKI issued, denying `deny`.
pub async fn tls_server(
    pki: &mut Pki,
    deny: &[&str],
) -> (LocalServer, tempfile::TempDir, tempfile::TempDir) {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = tls_server_in(pki, deny, &data, &keys).await;
    (server, data, keys)
}

/// A TLS server over the data and key directories given (a restart).
pub async fn tls_server_in(
    pki: &mut Pki,
    deny: &[&str],
    data: &tempfile::TempDir,
    keys: &tempfile::TempDir,
) -> LocalServer {
    let server = pki.ca.issue_server(&["127.0.0.1"]).unwrap();
    let (cert, key) = pki.save("server", &server);
    let mut config =
        super::TestServer::config(data, keys, ddc::disclosure::DisclosurePolicy::default());
    config.transport = Transport::Tls(ServerTls {
        cert,
        key,
        client_ca: pki.path("ca.pem"),
        deny: DenyList::new(deny.iter().copied()),
    });
    LocalServer::start(config).await.unwrap()
}

pub fn https(server: &LocalServer) -> String {
    server.url().replacen("http://", "https://", 1)
}

/// Connects (the server may still be opening its store) and lists datasets.
pub async fn list(url: &str, tls: &ClientTls) -> Result<proto::ListDatasetsResponse, String> {
    let mut last = String::new();
    for _ in 0..100 {
        match ddc::client::connect_tls(url, tls).await {
            Ok(mut c) => {
                return c
                    .ingest
                    .list_datasets(ListDatasetsRequest {})
                    .await
                    .map(|r| r.into_inner())
                    .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("no connection: {last}"))
}

/// The request declaring `name`, held by `organisation`, with one
/// categorical column `g` of `categories` (`a,b`).
pub fn declaration(
    name: &str,
    organisation: &str,
    categories: &str,
) -> proto::CreateDatasetRequest {
    proto::CreateDatasetRequest {
        name: name.into(),
        organisation: organisation.into(),
        schema: Some(proto::Schema {
            identifier_column: "bsn".into(),
            columns: vec![ddc::cli::parse_column_spec(&format!("g:cat:{categories}")).unwrap()],
            ..Default::default()
        }),
    }
}

/// Declares `name` (held by `organisation`, column `g` of `a,b`) and
/// uploads `ids` into it, alternating `a` and `b`.
pub async fn dataset_with_data(c: &mut Clients, name: &str, organisation: &str, ids: &[String]) {
    c.ingest
        .create_dataset(declaration(name, organisation, "a,b"))
        .await
        .unwrap();
    let file: String = ids
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{b},{}\n", if i % 2 == 0 { "a" } else { "b" }))
        .collect();
    let header = proto::UploadHeader {
        dataset: name.into(),
        upload_id: ddc::client::new_upload_id(),
        ..Default::default()
    };
    let body = std::io::Cursor::new(format!("bsn,g\n{file}").into_bytes());
    ddc::client::upload(&mut c.ingest, header, body, |_| {})
        .await
        .unwrap();
}

/// Creates project `name` over `datasets` with `members`, as `admin`.
pub async fn create_project(
    admin: &mut Clients,
    name: &str,
    datasets: &[&str],
    members: &[&str],
) -> Result<proto::Project, tonic::Status> {
    admin
        .projects
        .create_project(proto::CreateProjectRequest {
            name: name.into(),
            purpose: format!("research in {name}"),
            members: members.iter().map(|m| m.to_string()).collect(),
            datasets: datasets.iter().map(|d| d.to_string()).collect(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// `holder` approves `dataset` for `project`.
pub async fn approve(
    holder: &mut Clients,
    project: &str,
    dataset: &str,
) -> Result<proto::Project, tonic::Status> {
    holder
        .projects
        .approve_dataset(proto::ApprovalRequest {
            project: project.into(),
            dataset: dataset.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}
