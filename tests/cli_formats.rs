//! `--format csv|json` on every command that prints data: the CSV and the
//! JSON carry the same rows under the same names, with the figures the
//! server holds, and never an identifier.

mod common;

use std::collections::BTreeMap;

use common::{bsns, ddc_cli, TestServer};
use serde_json::Value;

/// Runs `ddc ARGS --server URL`, expecting success; its standard output.
fn run(url: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--server", url]);
    let out = ddc_cli(&all);
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "ddc {all:?}: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in bsns(PERSONS) {
        assert!(!said.contains(&id), "ddc {all:?} printed an identifier");
    }
    said
}

/// The persons of the test's files.
const PERSONS: usize = 80;

/// The CSV rows as column → field maps, and the header.
fn csv_rows(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

/// A JSON value as the CSV writes it.
fn as_field(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| as_field(i).unwrap())
            .collect::<Vec<_>>()
            .join(";"),
        Value::Array(_) | Value::Object(_) => return None,
        other => other.to_string(),
    })
}

/// Asks for `args` in CSV and in JSON and checks that both hold the same
/// rows: the JSON array's objects have every CSV column, with the same
/// field (nested JSON, which CSV flattens, aside). Returns both.
fn listing(url: &str, args: &[&str]) -> (Vec<BTreeMap<String, String>>, Vec<Value>) {
    let csv_text = run(url, &[args, &["--format", "csv"]].concat());
    let json_text = run(url, &[args, &["--format", "json"]].concat());
    let (header, rows) = csv_rows(&csv_text);
    let json: Value = serde_json::from_str(&json_text).unwrap();
    let items = json
        .as_array()
        .unwrap_or_else(|| panic!("{json_text}"))
        .clone();
    assert_eq!(rows.len(), items.len(), "{args:?}: {csv_text}\n{json_text}");
    for (row, item) in rows.iter().zip(&items) {
        for column in &header {
            let value = item
                .get(column)
                .unwrap_or_else(|| panic!("{args:?}: JSON lacks {column}: {item}"));
            if let Some(field) = as_field(value) {
                assert_eq!(&row[column], &field, "{args:?}, column {column}");
            }
        }
    }
    (rows, items)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_data_command_prints_the_same_rows_as_csv_and_json() {
    let mut s = TestServer::start().await;
    let url = s.url.clone();
    s.create("cbs.p", "bsn", &["geslacht:cat:m,v"]).await;
    s.create("duo.q", "pgn", &["niveau:cat:havo,vwo"]).await;
    let ids = bsns(PERSONS);
    let mut cbs = String::from("bsn,geslacht\n");
    for (i, id) in ids.iter().enumerate() {
        cbs.push_str(&format!("{id},{}\n", if i % 2 == 0 { "m" } else { "v" }));
    }
    s.upload("cbs.p", &cbs).await.unwrap();

    // An upload through the CLI, its receipt as JSON.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("duo.csv");
    let mut duo = String::from("pgn,niveau\n");
    for (i, id) in ids.iter().take(70).enumerate() {
        duo.push_str(&format!(
            "{id},{}\n",
            if i % 3 == 0 { "vwo" } else { "havo" }
        ));
    }
    std::fs::write(&file, &duo).unwrap();
    let receipt: Value = serde_json::from_str(&run(
        &url,
        &[
            "upload",
            "--dataset",
            "duo.q",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(receipt["dataset"], "duo.q");
    assert_eq!(receipt["rows_stored"], 70);
    assert_eq!(receipt["problems"], Value::Array(vec![]));
    assert!(receipt["log_index"].as_u64().is_some(), "{receipt}");
    assert!(receipt["checkpoint"].as_str().unwrap().contains("\n— "));

    // A code list, a project and a table, for the listings below.
    let codes = dir.path().join("codes.csv");
    std::fs::write(
        &codes,
        "code,label,label_en\nhavo,Havo,Senior general\nvwo,Vwo,\n",
    )
    .unwrap();
    run(
        &url,
        &[
            "codelist",
            "create",
            "niveau",
            "--file",
            codes.to_str().unwrap(),
        ],
    );
    run(
        &url,
        &[
            "project",
            "create",
            "kansen",
            "--purpose",
            "gelijke kansen",
            "--member",
            "uva/analyst/jansen",
            "--dataset",
            "duo.q",
            "--dataset",
            "cbs.p",
        ],
    );
    let table: Value = serde_json::from_str(&run(
        &url,
        &[
            "table",
            "--by",
            "duo.q.niveau",
            "--by",
            "cbs.p.geslacht",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let released_cells = table["cells"].as_array().unwrap().len();

    let (rows, _) = listing(&url, &["dataset", "list"]);
    let versions: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r["name"].as_str(), r["version"].as_str()))
        .collect();
    assert_eq!(versions, BTreeMap::from([("cbs.p", "1"), ("duo.q", "1")]));
    assert!(rows.iter().all(|r| r["identifier_mode"] == "identifier"));

    let shown = run(&url, &["dataset", "show", "duo.q", "--format", "json"]);
    let d: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(d["identifier_column"], "pgn");
    assert_eq!(d["columns"][0]["name"], "niveau");
    assert_eq!(d["columns"][0]["kind"], "categorical");
    assert_eq!(
        d["columns"][0]["categories"],
        serde_json::json!(["havo", "vwo"])
    );
    let (_, columns) = csv_rows(&run(&url, &["dataset", "show", "duo.q", "--format", "csv"]));
    assert_eq!(columns.len(), 1);
    assert_eq!(columns[0]["categories"], "havo;vwo");

    let (rows, _) = listing(&url, &["codelist", "list"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["name"].as_str(), rows[0]["codes"].as_str()),
        ("niveau", "2")
    );
    let list: Value = serde_json::from_str(&run(
        &url,
        &["codelist", "show", "niveau", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(list["codes"][0]["label_en"], "Senior general");
    assert_eq!(list["codes"][1]["label_en"], Value::Null);
    // The CSV of a code list is a file `ddc codelist create` reads back.
    let (header, codes_back) = csv_rows(&run(
        &url,
        &["codelist", "show", "niveau", "--format", "csv"],
    ));
    assert_eq!(header, ["code", "label", "label_en", "parent"]);
    assert_eq!(codes_back[1]["code"], "vwo");

    let linkage: Value = serde_json::from_str(&run(
        &url,
        &["linkage", "duo.q", "cbs.p", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(linkage["datasets"].as_array().unwrap().len(), 2);
    let pair = &linkage["pairs"][0];
    assert_eq!(
        (pair["dataset"].as_str(), pair["linked_with"].as_str()),
        (Some("duo.q"), Some("cbs.p"))
    );
    assert_eq!(pair["status"], "released");
    // Perturbed and rounded: near the 70 linked persons, not necessarily 70.
    let linked = pair["persons"].as_u64().unwrap();
    assert!((50..=90).contains(&linked), "{linkage}");
    assert!(linkage["policy"]["rounding_base"].as_u64().unwrap() >= 1);
    let (_, linkage_rows) = csv_rows(&run(
        &url,
        &["linkage", "duo.q", "cbs.p", "--format", "csv"],
    ));
    assert_eq!(linkage_rows.len(), 3);
    assert_eq!(linkage_rows[2]["persons"], linked.to_string());

    let (rows, releases) = listing(&url, &["release", "list"]);
    assert_eq!(rows.len(), 3, "a table and two linkage reports");
    assert_eq!(rows[0]["kind"], "table");
    assert_eq!(rows[0]["cells"], released_cells.to_string());
    assert_eq!(releases[0]["request"]["group_by"][0], "duo.q.niveau");
    assert!(rows[0]["asked"].starts_with("count by duo.q.niveau × cbs.p.geslacht"));
    let id = rows[0]["id"].clone();
    let record: Value =
        serde_json::from_str(&run(&url, &["release", "show", &id, "--format", "json"])).unwrap();
    assert_eq!(record["summary"]["id"].to_string(), id);
    assert_eq!(record["cells"].as_array().unwrap().len(), released_cells);
    let (_, cells) = csv_rows(&run(&url, &["release", "show", &id, "--format", "csv"]));
    assert_eq!(cells.len(), released_cells);

    let (rows, projects) = listing(&url, &["project", "list"]);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["name"].as_str(), rows[0]["state"].as_str()),
        ("kansen", "open")
    );
    assert_eq!(rows[0]["datasets"], "cbs.p;duo.q");
    assert_eq!(rows[0]["approved"], "");
    assert_eq!(projects[0]["datasets"][0]["holder"], "cbs");
    assert_eq!(projects[0]["datasets"][0]["approved"], false);

    let (rows, _) = listing(&url, &["keys", "status"]);
    assert!(rows
        .iter()
        .any(|r| r["purpose"] == "hash" && r["state"] == "active" && r["created"].ends_with('Z')));

    // The log as JSON Lines: one entry per line, in order, with its event.
    let log = run(&url, &["audit", "log", "--format", "json"]);
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.len() >= 8, "{log}");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["index"], i as u64);
        assert!(e["event"].is_object(), "{e}");
    }
    let upload = entries
        .iter()
        .find(|e| e["kind"] == "upload.accepted")
        .unwrap();
    assert_eq!(upload["event"]["dataset"], "cbs.p");
    let (header, log_rows) = csv_rows(&run(&url, &["audit", "log", "--format", "csv"]));
    assert_eq!(header, ["index", "at", "actor", "kind", "event"]);
    assert_eq!(log_rows.len(), entries.len());
    let event: Value = serde_json::from_str(&log_rows[0]["event"]).unwrap();
    assert_eq!(event, entries[0]["event"]);
}
