//! Datasets of holder pseudonyms: the data holder's client checks each
//! identifier and sends its HMAC under the holders' key; ddc hashes that
//! again. Such datasets link to each other under one holders' key, never
//! across keys, and never to datasets of identifiers. The server refuses a
//! value that is not 64 hex digits as it refuses an invalid BSN, and the
//! client sends nothing from a file with a row that fails the eleven-test.
//!
//! Fixture: persons 1..=60, each a synthetic BSN. DUO holds 1..=40, CBS
//! holds 11..=60: 30 persons in both.

mod common;

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use common::{bsns, db_persons, db_scalar, exact_policy, fields, reason, said, TestServer};
use ddc::client;
use ddc::holder::{self, HolderRewrite, HoldersKey, RewriteError};
use ddc::proto::{self, LinkageRequest, UploadHeader, UploadReceipt};
use tonic::Code;

const DUO: &str = "duo.holder";
const CBS: &str = "cbs.holder";
const KEY_A: [u8; 32] = [0xa1; 32];
const KEY_B: [u8; 32] = [0xb2; 32];

fn key(bytes: [u8; 32]) -> Arc<HoldersKey> {
    Arc::new(HoldersKey::from_bytes(&bytes))
}

/// The holder's file: persons `first..=last`, identifier first.
fn duo_csv(ids: &[String], first: usize, last: usize) -> String {
    let mut csv = String::from("pgn,niveau\n");
    for p in first..=last {
        let niveau = if p % 2 == 0 { "havo" } else { "vwo" };
        csv.push_str(&format!("{},{niveau}\n", ids[p - 1]));
    }
    csv
}

/// The holder's file with the identifier in the middle and a quoted field.
fn cbs_csv(ids: &[String], first: usize, last: usize) -> String {
    let mut csv = String::from("decile,bsn,plaats\n");
    for p in first..=last {
        let decile = if p <= 35 { "lo" } else { "hi" };
        csv.push_str(&format!(
            "{decile},{},\"Den Haag, \"\"centrum\"\"\"\n",
            ids[p - 1]
        ));
    }
    csv
}

/// What the holder's client sends for `csv` under `key`.
fn rewritten(csv: &str, key: Arc<HoldersKey>, column: &str) -> String {
    let mut sent = String::new();
    HolderRewrite::new(csv.as_bytes(), key, column, b',')
        .read_to_string(&mut sent)
        .unwrap();
    sent
}

async fn create(s: &mut TestServer, name: &str, identifier: &str, columns: &[&str]) {
    let columns = columns
        .iter()
        .map(|c| ddc::cli::parse_column_spec(c).unwrap())
        .collect();
    let request = proto::CreateDatasetRequest {
        name: name.into(),
        organisation: name.split('.').next().unwrap().into(),
        schema: Some(proto::Schema {
            identifier_column: identifier.into(),
            columns,
            identifier_mode: proto::IdentifierMode::HolderPseudonym as i32,
            ..Default::default()
        }),
    };
    let d = s.clients.ingest.create_dataset(request).await.unwrap();
    let mode = d.into_inner().schema.unwrap().identifier_mode;
    assert_eq!(mode, proto::IdentifierMode::HolderPseudonym as i32);
}

async fn create_both(s: &mut TestServer) {
    create(s, DUO, "pgn", &["niveau:cat:havo,vwo"]).await;
    create(s, CBS, "bsn", &["decile:cat:lo,hi", "plaats:open"]).await;
}

/// Uploads `csv` as the holder's client does: rewritten while it streams.
async fn upload_as_holder(
    s: &mut TestServer,
    dataset: &str,
    csv: &str,
    key: Arc<HoldersKey>,
    column: &str,
) -> Result<UploadReceipt, tonic::Status> {
    let header = UploadHeader {
        dataset: dataset.into(),
        upload_id: client::new_upload_id(),
        ..Default::default()
    };
    let source = HolderRewrite::new(Cursor::new(csv.as_bytes().to_vec()), key, column, b',');
    client::upload(&mut s.clients.ingest, header, source, |_| {}).await
}

/// `(persons in DUO, in CBS, linked)` as the linkage figures release them.
async fn linkage(s: &mut TestServer) -> (Option<u64>, Option<u64>, Option<u64>) {
    let request = LinkageRequest {
        datasets: vec![DUO.into(), CBS.into()],
        ..Default::default()
    };
    let report = s
        .clients
        .release
        .linkage(request)
        .await
        .unwrap()
        .into_inner();
    let persons = |i: usize| report.datasets[i].persons.unwrap().rounded;
    (
        persons(0),
        persons(1),
        report.pairs[0].linked.unwrap().rounded,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_under_one_holders_key_link_to_each_other() {
    let ids = bsns(60);
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    create_both(&mut s).await;
    let r = upload_as_holder(&mut s, DUO, &duo_csv(&ids, 1, 40), key(KEY_A), "pgn").await;
    assert_eq!(r.unwrap().rows_stored, 40);
    // CBS has an open column: the detector of identifier-like labels
    // checks it, never the identifier column and its 64 hex digits.
    let r = upload_as_holder(&mut s, CBS, &cbs_csv(&ids, 11, 60), key(KEY_A), "bsn").await;
    assert_eq!(r.unwrap().rows_stored, 50);
    assert_eq!(linkage(&mut s).await, (Some(40), Some(50), Some(30)));
    assert_eq!(db_persons(s.data_dir.path()), 60);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_under_another_holders_key_links_to_nothing() {
    let ids = bsns(60);
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    create_both(&mut s).await;
    upload_as_holder(&mut s, DUO, &duo_csv(&ids, 1, 40), key(KEY_A), "pgn")
        .await
        .unwrap();
    upload_as_holder(&mut s, CBS, &cbs_csv(&ids, 11, 60), key(KEY_B), "bsn")
        .await
        .unwrap();
    assert_eq!(linkage(&mut s).await, (Some(40), Some(50), None));
    // Exactly: every person of the second upload is a new one.
    assert_eq!(db_persons(s.data_dir.path()), 90);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holder_pseudonyms_never_link_to_identifiers_of_the_same_persons() {
    let ids = bsns(60);
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    create(&mut s, DUO, "pgn", &["niveau:cat:havo,vwo"]).await;
    s.create(CBS, "bsn", &["decile:cat:lo,hi", "plaats:open"])
        .await;
    upload_as_holder(&mut s, DUO, &duo_csv(&ids, 1, 40), key(KEY_A), "pgn")
        .await
        .unwrap();
    s.upload(CBS, &cbs_csv(&ids, 11, 60)).await.unwrap();
    assert_eq!(linkage(&mut s).await, (Some(40), Some(50), None));
    assert_eq!(db_persons(s.data_dir.path()), 90);
    // Nor do identifiers sent as they are into a holder-pseudonym dataset.
    let raw = s
        .upload_with(DUO, &duo_csv(&ids, 11, 20), false, true)
        .await;
    assert_eq!(raw.unwrap_err().code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_is_not_64_hex_digits_is_refused_like_an_invalid_bsn() {
    let ids = bsns(3);
    let mut s = TestServer::start().await;
    create(&mut s, DUO, "pgn", &["niveau:cat:havo,vwo"]).await;
    s.create("duo.ids", "pgn", &["niveau:cat:havo,vwo"]).await;
    let good = rewritten(&duo_csv(&ids, 1, 3), key(KEY_A), "pgn");
    let bad_hex = format!("{}x", "0a".repeat(31) + "f");
    // Rows 2 and 4 are bad: a non-hex digit, and a BSN as it is.
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[3] = format!("{},vwo", ids[2]);
    lines.insert(2, format!("{bad_hex},havo"));
    let file = lines.join("\n") + "\n";

    let status = s.upload(DUO, &file).await.unwrap_err();
    let invalid_bsn = s.upload("duo.ids", "pgn,niveau\n249566757,havo\n").await;
    let invalid_bsn = invalid_bsn.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.code(), invalid_bsn.code());
    assert_eq!(reason(&status), reason(&invalid_bsn));
    assert_eq!(fields(&status), ["rows[2].pgn", "rows[4].pgn"]);
    let told = said(&status);
    assert!(
        told.contains("a holder pseudonym must be 64 hex digits"),
        "{told}"
    );
    for value in [bad_hex.as_str(), &ids[2], &bad_hex[..16]] {
        assert!(!told.contains(value), "{told}");
    }
    assert_eq!(s.version(DUO).await, 0);

    let receipt = s.upload_with(DUO, &file, true, false).await.unwrap();
    let problems: Vec<(u64, &str)> = (receipt.problems.iter())
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(problems, [(2, "pgn"), (4, "pgn")]);
    assert_eq!(receipt.rows_stored, 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_holder_pseudonym_twice_is_the_same_person_twice() {
    let ids = bsns(3);
    let mut s = TestServer::start().await;
    create(&mut s, DUO, "pgn", &["niveau:cat:havo,vwo"]).await;
    let mut csv = duo_csv(&ids, 1, 3);
    // Upper-case hex of the same pseudonym is the same person.
    let sent = rewritten(&csv, key(KEY_A), "pgn");
    let first = sent
        .lines()
        .nth(1)
        .unwrap()
        .to_uppercase()
        .replace("VWO", "vwo");
    csv = format!("{sent}{first}\n");
    let receipt = s.upload_with(DUO, &csv, true, false).await.unwrap();
    let problems: Vec<(u64, &str, &str)> = (receipt.problems.iter())
        .map(|p| (p.row, p.column.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            (1, "pgn", "the same person appears again at row 4"),
            (4, "pgn", "the same person appears at row 1"),
        ]
    );
    s.stop().await;
}

#[test]
fn the_file_sent_holds_no_identifier_and_every_other_field_as_written() {
    let ids = bsns(60);
    let csv = cbs_csv(&ids, 1, 60);
    let sent = rewritten(&csv, key(KEY_A), "bsn");
    for id in &ids {
        assert!(!sent.contains(id.as_str()), "{id} sent");
    }
    for (line, original) in sent.lines().zip(csv.lines()).skip(1) {
        let (decile, rest) = line.split_once(',').unwrap();
        let (hex, plaats) = rest.split_once(',').unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(original.starts_with(decile));
        assert!(original.ends_with(plaats));
    }
    assert_eq!(sent.lines().count(), csv.lines().count());
    // Another key, other pseudonyms; the same key, the same ones.
    assert_ne!(sent, rewritten(&csv, key(KEY_B), "bsn"));
    assert_eq!(sent, rewritten(&csv, key(KEY_A), "bsn"));
}

#[test]
fn a_row_failing_the_eleven_test_is_named_by_row_and_column_only() {
    let mut ids = bsns(5);
    ids[2] = "249566757".into();
    ids[4] = "12345".into();
    let csv = duo_csv(&ids, 1, 5);
    let Err(RewriteError::Rows { problems, total }) =
        holder::check(csv.as_bytes(), key(KEY_A), "pgn", b',')
    else {
        panic!("the file passes the local check");
    };
    assert_eq!(total, 2);
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "rows[3].pgn: identifier fails the eleven-test for both BSN and onderwijsnummer",
            "rows[5].pgn: identifier must have 8 or 9 digits",
        ]
    );
    assert!(holder::check(duo_csv(&bsns(5), 1, 5).as_bytes(), key(KEY_A), "pgn", b',').is_ok());
}

// The real `ddc` binary against a server in this process.

fn ddc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_SERVER")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_file(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    ddc::private_fs::set_mode(&path, mode).unwrap();
    path
}

fn uploads_audited(s: &TestServer) -> i64 {
    db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind LIKE 'upload.%'",
    )
}

#[test]
fn ddc_upload_sends_holder_pseudonyms_and_nothing_from_a_failing_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut s = runtime.block_on(TestServer::start_with_policy(exact_policy()));
    let url = s.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let ids = bsns(60);
    let hex = "3c".repeat(32);
    let holders_key = write_file(dir.path(), "holders.key", &format!("{hex}\n"), 0o600);
    let holders_key = holders_key.to_str().unwrap();
    let exposed = write_file(dir.path(), "exposed.key", &hex, 0o644);
    let duo = write_file(dir.path(), "duo.csv", &duo_csv(&ids, 1, 40), 0o600);
    let cbs = write_file(dir.path(), "cbs.csv", &cbs_csv(&ids, 11, 60), 0o600);
    let mut failing_ids = ids.clone();
    failing_ids[6] = "249566757".into();
    let failing = duo_csv(&failing_ids, 1, 40);
    let failing = write_file(dir.path(), "failing.csv", &failing, 0o600);
    let [duo, cbs, failing, exposed] =
        [&duo, &cbs, &failing, &exposed].map(|p| p.to_str().unwrap());
    let server = ["--server", url.as_str()];

    for (name, column, columns) in [
        (DUO, "pgn", &["niveau:cat:havo,vwo"][..]),
        (CBS, "bsn", &["decile:cat:lo,hi", "plaats:open"][..]),
    ] {
        let mut args = vec!["dataset", "create", name, "--identifier", column];
        args.extend(["--identifier-mode", "holder-pseudonym"]);
        args.extend(columns.iter().flat_map(|c| ["--column", *c]));
        args.extend(server);
        assert!(ddc(&args).status.success());
    }
    let shown = text(&ddc(&[&["dataset", "show", DUO][..], &server[..]].concat()));
    assert!(shown.contains("pgn: holder pseudonym"), "{shown}");
    let listed = text(&ddc(&[&["dataset", "list"][..], &server[..]].concat()));
    assert!(
        listed.contains(&format!("{DUO}\tversion 0\tholder pseudonyms")),
        "{listed}"
    );

    let upload = |file: &str, key: Option<&str>| {
        let mut args = vec!["upload", "--dataset", DUO, file];
        args.extend(key.map(|k| ["--holders-key", k]).into_iter().flatten());
        ddc(&[&args[..], &server[..]].concat())
    };
    let refusals = [
        (upload(duo, None), "--holders-key FILE".to_owned()),
        (
            upload(duo, Some(exposed)),
            "readable by its owner only".to_owned(),
        ),
        (
            upload(failing, Some(holders_key)),
            "rows[7].pgn: identifier fails".to_owned(),
        ),
    ];
    for (out, why) in &refusals {
        let told = text(out);
        assert!(!out.status.success(), "{told}");
        assert!(
            told.contains(why.as_str()) && told.contains("nothing sent"),
            "{told}"
        );
        assert!(
            !told.contains("249566757") && !told.contains(&hex),
            "{told}"
        );
    }
    // Nothing was sent: no upload began, not even one broken off.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(uploads_audited(&s), 0);

    let out = upload(duo, Some(holders_key));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("40 rows read, 40 stored"),
        "{}",
        text(&out)
    );
    let mut args = vec![
        "upload",
        "--dataset",
        CBS,
        cbs,
        "--holders-key",
        holders_key,
    ];
    args.extend(server);
    assert!(ddc(&args).status.success());
    assert_eq!(
        runtime.block_on(linkage(&mut s)),
        (Some(40), Some(50), Some(30))
    );

    runtime.block_on(s.create("duo.ids", "pgn", &["niveau:cat:havo,vwo"]));
    let mut args = vec![
        "upload",
        "--dataset",
        "duo.ids",
        duo,
        "--holders-key",
        holders_key,
    ];
    args.extend(server);
    let told = text(&ddc(&args));
    assert!(told.contains("takes identifiers"), "{told}");
    assert_eq!(runtime.block_on(s.version("duo.ids")), 0);
    runtime.block_on(s.stop());
}
