//! Callers are who their client certificates say, over mutual TLS: no
//! certificate is UNAUTHENTICATED, an expired one or one from another CA
//! fails the handshake, a revoked one is refused, and the log records the
//! certificate's organisation, role and name. Plaintext is for loopback
//! development only, on the server and in the CLI.

mod common;

use std::path::Path;
use std::process::Command;

use common::pki::{https, list, tls_server, Pki};
use ddc::auth::Role;
use ddc::pki::Validity;
use ddc::proto::{self, ListDatasetsRequest};
use ddc::server::{ServerConfig, ServerError};
use ddc::tls::ClientTls;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_is_who_its_certificate_says_and_the_log_records_it() {
    let mut pki = Pki::new();
    let (server, data, _keys) = tls_server(&mut pki, &[]).await;
    let (cbs, _) = pki.client("jansen", "cbs", Role::Provider, Validity::default());
    list(&https(&server), &cbs).await.unwrap();
    let mut c = ddc::client::connect_tls(&https(&server), &cbs)
        .await
        .unwrap();
    c.ingest
        .create_dataset(common::pki::declaration("cbs.p", "cbs", "a,b"))
        .await
        .unwrap();
    server.stop().await.unwrap();
    let actor = common::db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'dataset.created' AND actor = 'cbs/provider/jansen'",
    );
    assert_eq!(actor, 1, "the log names the certificate's O/OU/CN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_expired_foreign_or_revoked_certificate_gets_in() {
    let mut pki = Pki::new();
    let (revoked, revoked_cert) = pki.client("old", "duo", Role::Provider, Validity::default());
    let (server, _data, _keys) = tls_server(&mut pki, &[&revoked_cert.serial]).await;
    let url = https(&server);
    let (good, _) = pki.client("ok", "duo", Role::Analyst, Validity::default());
    assert!(list(&url, &good).await.is_ok(), "the control gets in");

    // No client certificate: the edge answers UNAUTHENTICATED.
    let anonymous = tonic::transport::ClientTlsConfig::new().ca_certificate(
        tonic::transport::Certificate::from_pem(std::fs::read(pki.path("ca.pem")).unwrap()),
    );
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .tls_config(anonymous)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let e = proto::ingest_client::IngestClient::new(channel)
        .list_datasets(ListDatasetsRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    assert!(
        e.message().contains("no client certificate"),
        "{}",
        e.message()
    );

    // Revoked by serial.
    let e = list(&url, &revoked).await.unwrap_err();
    assert!(
        e.starts_with("Unauthenticated") && e.contains("revoked"),
        "{e}"
    );

    // Expired, and issued by another CA: the handshake fails.
    let expired = Validity {
        from_days_ago: 30,
        until_days: -1,
    };
    let (stale, _) = pki.client("stale", "duo", Role::Provider, expired);
    let mut other = Pki::new();
    let (foreign, _) = other.client("intruder", "duo", Role::Provider, Validity::default());
    let foreign = ClientTls {
        ca: pki.path("ca.pem"),
        ..foreign
    };
    for (what, tls) in [("expired", &stale), ("foreign", &foreign)] {
        assert!(!lists(&url, Some(tls)).await, "{what}: let in");
    }
    // A plaintext client gets nothing either.
    assert!(!lists(server.url(), None).await, "plaintext let in");
    server.stop().await.unwrap();
}

/// Whether a client with `tls` (plaintext without) gets a dataset list.
async fn lists(url: &str, tls: Option<&ClientTls>) -> bool {
    match ddc::client::channel(url, tls).await {
        Ok(channel) => proto::ingest_client::IngestClient::new(channel)
            .list_datasets(ListDatasetsRequest {})
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_off_loopback() {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config: ServerConfig =
        common::TestServer::config(&data, &keys, ddc::disclosure::DisclosurePolicy::default());
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let result = ddc::server::run(listener, config, std::future::pending()).await;
    assert!(matches!(result, Err(ServerError::Tls(_))), "{result:?}");
}

fn ddc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_MASTER_KEY")
        .env_remove("DDC_TLS_CA")
        .env_remove("DDC_TLS_CERT")
        .env_remove("DDC_TLS_KEY")
        .output()
        .unwrap()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_cli_makes_dev_certificates_and_refuses_plaintext_it_was_not_told_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let made = ddc(&[
        "pki",
        "dev",
        "--out",
        arg(&out),
        "--org",
        "cbs",
        "--org",
        "duo",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    for file in [
        "ca.pem",
        "server.pem",
        "server.key",
        "cbs-provider.pem",
        "duo-auditor.key",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let again = ddc(&["pki", "dev", "--out", arg(&out)]);
    assert!(!again.status.success(), "never overwrites");

    // ddc serve without TLS settings and without the development flag.
    let data = tempfile::tempdir().unwrap();
    let serve = ddc(&[
        "serve",
        "--data-dir",
        arg(data.path()),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!serve.status.success());
    let said = String::from_utf8_lossy(&serve.stderr);
    assert!(said.contains("--insecure-plaintext-dev"), "{said}");
    // A client given an https address without TLS settings.
    let client = ddc(&["dataset", "list", "--server", "https://127.0.0.1:1"]);
    assert!(!client.status.success());
    let said = String::from_utf8_lossy(&client.stderr);
    assert!(said.contains("--tls-ca"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddc_serve_runs_from_a_configuration_file_and_the_environment_overrides_it() {
    use std::io::BufRead;
    let mut pki = Pki::new();
    let server = pki.ca.issue_server(&["127.0.0.1"]).unwrap();
    let (cert, key) = pki.save("server", &server);
    let data = tempfile::tempdir().unwrap();
    let keys = common::key_dir_with([6; 32]);
    let config = data.path().join("ddc.toml");
    let toml = format!(
        "data_dir = {:?}\nkey_dir = {:?}\nmaster_key_file = {:?}\nlisten = \"127.0.0.1:0\"\n\
         tls_cert = {:?}\ntls_key = {:?}\nclient_ca = {:?}\nlog_format = \"text\"\nthreshold = 12\n",
        data.path().join("db"),
        keys.path(),
        keys.path().join(common::TEST_MASTER_KEY),
        cert,
        key,
        pki.path("ca.pem"),
    );
    std::fs::write(&config, toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(["serve", "--config", arg(&config)])
        .env("DDC_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("DDC_MASTER_KEY")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut serving = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("serving") {
            serving = Some(line);
            break;
        }
    }
    let line = serving.expect("the server starts from the file");
    assert!(
        line.starts_with('{'),
        "DDC_LOG_FORMAT beats the file: {line}"
    );
    let url = common::loopback_url(&line).replacen("http://", "https://", 1);
    let (analyst, _) = pki.client("ana", "ocw", Role::Analyst, Validity::default());
    assert!(list(&url, &analyst).await.is_ok());
    child.kill().unwrap();
    child.wait().unwrap();

    std::fs::write(&config, "data_dir = \"/tmp/x\"\nthreshhold = 12\n").unwrap();
    let out = ddc(&["serve", "--config", arg(&config)]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("unknown setting `threshhold`"), "{said}");
}
