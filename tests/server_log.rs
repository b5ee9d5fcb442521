//! The server's own log, as an operator reads it: one line per request and
//! per refusal with method, caller, outcome and duration; JSON for log
//! collectors; no colour codes when not writing to a terminal.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `ddc serve` on a fresh store, its stderr lines on a channel.
fn serve(
    format: &str,
) -> (
    Child,
    mpsc::Receiver<String>,
    tempfile::TempDir,
    tempfile::TempDir,
) {
    let data = tempfile::tempdir().unwrap();
    let keys = common::key_dir_with([5; 32]);
    let mut child = common::serve_with_master_key(data.path(), keys.path())
        .args(["--log-format", format])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    (child, rx, data, keys)
}

fn wait_for(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, what: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `{what}` in the log: {seen:#?}"));
        seen.push(line.clone());
        if line.contains(what) {
            return line;
        }
    }
}

/// One good call and one refused call.
fn calls(url: String) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let mut clients = ddc::client::connect(&url).await.unwrap();
            clients
                .ingest
                .list_datasets(ddc::proto::ListDatasetsRequest {})
                .await
                .unwrap();
            let refused = clients
                .ingest
                .get_dataset(ddc::proto::GetDatasetRequest {
                    name: "nobody.x".into(),
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), tonic::Code::NotFound);
        });
}

#[test]
fn json_log_lines_name_method_caller_outcome_and_duration() {
    let (mut child, lines, _data, _keys) = serve("json");
    let mut seen = Vec::new();
    let url = common::loopback_url(&wait_for(&lines, &mut seen, "serving"));
    calls(url);
    let ok = wait_for(&lines, &mut seen, "ListDatasets");
    let refused = wait_for(&lines, &mut seen, "GetDataset");
    child.kill().unwrap();
    child.wait().unwrap();
    for line in &seen {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let ok: serde_json::Value = serde_json::from_str(&ok).unwrap();
    assert_eq!(ok["message"], "request");
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["method"], "/ddc.v1.Ingest/ListDatasets");
    assert_eq!(ok["caller"], "development");
    assert_eq!(ok["outcome"], "OK");
    assert!(ok["duration_us"].as_u64().is_some(), "{ok}");
    let refused: serde_json::Value = serde_json::from_str(&refused).unwrap();
    assert_eq!(refused["message"], "request refused");
    assert_eq!(refused["level"], "INFO");
    assert_eq!(refused["outcome"], "NOT_FOUND");
    assert!(
        !seen.iter().any(|l| l.contains("nobody.x")),
        "no request content in the log"
    );
}

#[test]
fn text_log_lines_carry_no_colour_codes_off_a_terminal() {
    let (mut child, lines, _data, _keys) = serve("text");
    let mut seen = Vec::new();
    let url = common::loopback_url(&wait_for(&lines, &mut seen, "serving"));
    calls(url);
    let refused = wait_for(&lines, &mut seen, "request refused");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        refused.contains("outcome=\"NOT_FOUND\"") || refused.contains("outcome=NOT_FOUND"),
        "{refused}"
    );
    assert!(!seen.iter().any(|l| l.contains('\u{1b}')), "{seen:#?}");
}
