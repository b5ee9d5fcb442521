//! The linkage log as auditors use it: every action has its typed entry,
//! receipts carry signed checkpoints that proofs tie to the entries, and
//! `ddc audit verify` catches any single change to the log in the database
//! file, even one re-signed with the server's own key when the auditor
//! saved a checkpoint earlier.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{bsns, db_scalar, table_request, TestServer, TEST_MASTER_KEY};
use ddc::audit::event::{self, Entry, Event};
use ddc::audit::merkle::{self, Frontier, Hash};
use ddc::audit::note::{open_checkpoint, Checkpoint, Verifier};
use ddc::keystore::{KeyPurpose, KeyStore, MasterKey};
use ddc::proto::{self, CreateCodeListRequest, LinkageRequest, ListEntriesRequest};
use tokio_stream::StreamExt;

/// The log's verifier key, read from the key store as an administrator
/// would publish it: never the server's word.
fn published_key(key_dir: &Path) -> Verifier {
    let master = MasterKey::from_file(&key_dir.join(TEST_MASTER_KEY)).unwrap();
    let keys = KeyStore::open(key_dir, &master).unwrap();
    let (_, seed) = keys.active(KeyPurpose::Signing).unwrap();
    ddc::audit::log_signer(ddc::audit::DEFAULT_ORIGIN, seed)
        .unwrap()
        .verifier()
}

/// Every entry, decoded, with its stored bytes.
async fn entries(s: &mut TestServer) -> Vec<(proto::LogEntry, Entry)> {
    let mut stream = s
        .clients
        .audit
        .list_entries(ListEntriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = stream.next().await {
        let e = e.unwrap();
        let decoded = event::decode(&e.entry).unwrap();
        out.push((e, decoded));
    }
    out
}

fn of_kind<'a>(all: &'a [(proto::LogEntry, Entry)], kind: &str) -> Vec<&'a Entry> {
    all.iter()
        .filter(|(_, e)| e.event.kind() == kind)
        .map(|(_, e)| e)
        .collect()
}

/// A server that has done one of almost everything.
async fn busy_server() -> TestServer {
    let mut s = TestServer::start_configured(common::exact_policy(), |c| {
        c.table_limits.attacker.work = 10;
    })
    .await;
    let codes = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(code, label)| proto::Code {
                code: (*code).into(),
                label: (*label).into(),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    let list = CreateCodeListRequest {
        name: "sector".into(),
        codes: codes(&[("po", "Primair"), ("vo", "Voortgezet")]),
        ..Default::default()
    };
    s.clients
        .classifications
        .create_code_list(list.clone())
        .await
        .unwrap();
    s.clients
        .classifications
        .create_code_list(list)
        .await
        .unwrap();
    let bad = CreateCodeListRequest {
        name: "sector".into(),
        codes: codes(&[("po", "a"), ("po", "b")]),
        ..Default::default()
    };
    assert!(s
        .clients
        .classifications
        .create_code_list(bad)
        .await
        .is_err());
    s.create("duo.p", "pgn", &["niveau:cat:havo,vwo"]).await;
    s.create("cbs.p", "bsn", &["decile:cat:lo,hi"]).await;
    let ids = bsns(60);
    let duo: String = ids[..50]
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id},{}\n", if i % 2 == 0 { "havo" } else { "vwo" }))
        .collect();
    s.upload("duo.p", &format!("pgn,niveau\n{duo}"))
        .await
        .unwrap();
    let cbs: String = ids[5..]
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id},{}\n", if i < 20 { "lo" } else { "hi" }))
        .collect();
    s.upload("cbs.p", &format!("bsn,decile\n{cbs}"))
        .await
        .unwrap();
    // Rejected: an invalid row.
    assert!(s
        .upload_with("cbs.p", "bsn,decile\n123,lo\n", false, true)
        .await
        .is_err());
    s.table(table_request(&["duo.p.niveau", "cbs.p.decile"], &[]))
        .await
        .unwrap();
    s.clients
        .release
        .linkage(LinkageRequest::default())
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_is_an_entry_with_its_fields() {
    let mut s = busy_server().await;
    // Replayed: the same upload id again.
    s.create("duo.q", "pgn", &["niveau:cat:havo,vwo"]).await;
    let header = proto::UploadHeader {
        dataset: "duo.q".into(),
        upload_id: "fixed-upload-id-0001".into(),
        ..Default::default()
    };
    let file = format!("pgn,niveau\n{},havo\n", bsns(1)[0]);
    for _ in 0..2 {
        ddc::client::upload(
            &mut s.clients.ingest,
            header.clone(),
            std::io::Cursor::new(file.clone().into_bytes()),
            |_| {},
        )
        .await
        .unwrap();
    }
    // Refused: a cell of 3 persons needs the attacker check, whose budget
    // (10 units of work) is too small.
    s.create("cbs.s", "bsn", &["g:cat:a,b,c"]).await;
    let small: String = bsns(55)
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "{id},{}\n",
                if i < 3 {
                    "a"
                } else if i % 2 == 0 {
                    "b"
                } else {
                    "c"
                }
            )
        })
        .collect();
    s.upload("cbs.s", &format!("bsn,g\n{small}")).await.unwrap();
    let refused = s.table(table_request(&["cbs.s.g"], &[])).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    s.clients
        .admin
        .rotate_storage_key(proto::RotateStorageKeyRequest {})
        .await
        .unwrap();
    let mut s = s.restart().await;
    let all = entries(&mut s).await;

    for kind in [
        "server.started",
        "server.stopped",
        "key.recorded",
        "code_list.created",
        "code_list.unchanged",
        "code_list.refused",
        "dataset.created",
        "upload.accepted",
        "upload.rejected",
        "upload.replayed",
        "table.released",
        "linkage.released",
        "key.rotated",
        "table.refused",
    ] {
        assert!(!of_kind(&all, kind).is_empty(), "no {kind} entry");
    }
    for (i, (stored, entry)) in all.iter().enumerate() {
        assert_eq!(stored.index, i as u64);
        assert_eq!(stored.kind, entry.event.kind());
        assert!(
            ["development", "server"].contains(&entry.actor.as_str()),
            "{entry:?}"
        );
        assert!(entry.at_ms > 1_700_000_000_000, "a real time");
    }
    let accepted = of_kind(&all, "upload.accepted");
    let Event::UploadAccepted {
        dataset,
        organisation,
        rows_stored,
        bytes,
        content_digest,
        ..
    } = &accepted[0].event
    else {
        unreachable!()
    };
    assert_eq!((dataset.as_str(), organisation.as_str()), ("duo.p", "duo"));
    assert_eq!(*rows_stored, 50);
    assert!(*bytes > 0);
    assert_eq!(content_digest.len(), 64);
    let Event::UploadRejected(f) = &of_kind(&all, "upload.rejected")[0].event else {
        unreachable!()
    };
    assert_eq!(
        (f.dataset.as_str(), f.reason.as_str(), f.rows_rejected),
        ("cbs.p", "invalid_rows", 1)
    );
    let Event::TableReleased {
        release,
        request,
        policy,
        statuses,
        cells_digest,
        ..
    } = &of_kind(&all, "table.released")[0].event
    else {
        unreachable!()
    };
    assert_eq!(request["group_by"][0], "duo.p.niveau");
    assert_eq!(policy["threshold"], s.policy.threshold);
    assert!(statuses.values().sum::<u64>() > 0);
    // The release history is what the log committed to.
    let record = s
        .clients
        .audit
        .get_release(proto::GetReleaseRequest {
            id: *release as u64,
        })
        .await
        .unwrap()
        .into_inner();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(record.cells_json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(&digest, cells_digest);
    // Every upload entry has its action: the upload id is committed.
    for e in &accepted {
        let Event::UploadAccepted {
            upload_id, version, ..
        } = &e.event
        else {
            unreachable!()
        };
        let sql = format!(
            "SELECT count(*) FROM uploads WHERE upload_id = '{upload_id}' AND version = {version}"
        );
        assert_eq!(db_scalar(s.data_dir.path(), &sql), 1, "{upload_id}");
    }
    // The filters of the service.
    let only = |kind: &str| ListEntriesRequest {
        kind: kind.into(),
        ..Default::default()
    };
    let uploads: Vec<_> = s
        .clients
        .audit
        .list_entries(only("upload"))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(
        uploads.len(),
        all.iter()
            .filter(|(e, _)| e.kind.starts_with("upload."))
            .count()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_carry_checkpoints_that_proofs_tie_to_their_entries() {
    let mut s = busy_server().await;
    let key = published_key(s.key_dir.path());
    s.create("cbs.r", "bsn", &["x:cat:a"]).await;
    let receipt = s
        .upload("cbs.r", &format!("bsn,x\n{},a\n", bsns(70)[69]))
        .await
        .unwrap()
        .log
        .expect("an upload receipt");
    let table = s
        .table(table_request(&["cbs.p.decile"], &[]))
        .await
        .unwrap();
    let later = table.log.expect("a release receipt");
    let early = open_checkpoint(&receipt.checkpoint, &key).unwrap();
    let late = open_checkpoint(&later.checkpoint, &key).unwrap();
    assert!(early.size > receipt.index && late.size > later.index && late.size > early.size);
    let all = entries(&mut s).await;
    assert_eq!(
        all[receipt.index as usize].1.event.kind(),
        "upload.accepted"
    );
    assert_eq!(all[later.index as usize].1.event.kind(), "table.released");
    // Inclusion of the upload in its own receipt's tree and in the later one.
    for checkpoint in [&early, &late] {
        let proof = s
            .clients
            .audit
            .get_inclusion_proof(proto::InclusionProofRequest {
                index: receipt.index,
                tree_size: checkpoint.size,
            })
            .await
            .unwrap()
            .into_inner();
        let hashes: Vec<Hash> = proof
            .hashes
            .iter()
            .map(|h| h[..].try_into().unwrap())
            .collect();
        let entry = &all[receipt.index as usize].0.entry;
        merkle::verify_inclusion(
            entry,
            receipt.index,
            checkpoint.size,
            &hashes,
            &checkpoint.root,
        )
        .unwrap();
        let mut forged = entry.clone();
        forged[10] ^= 1;
        assert!(merkle::verify_inclusion(
            &forged,
            receipt.index,
            checkpoint.size,
            &hashes,
            &checkpoint.root
        )
        .is_err());
    }
    // The old checkpoint is a prefix of the newer one.
    let proof = s
        .clients
        .audit
        .get_consistency_proof(proto::ConsistencyProofRequest {
            old_size: early.size,
            new_size: late.size,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<Hash> = proof
        .hashes
        .iter()
        .map(|h| h[..].try_into().unwrap())
        .collect();
    merkle::verify_consistency(early.size, &early.root, late.size, &late.root, &hashes).unwrap();
    // Beyond the log: OUT_OF_RANGE.
    let too_far = s
        .clients
        .audit
        .get_inclusion_proof(proto::InclusionProofRequest {
            index: 0,
            tree_size: late.size + 1_000,
        })
        .await
        .unwrap_err();
    assert_eq!(too_far.code(), tonic::Code::OutOfRange);
    // The service's checkpoint names the same key.
    let latest = s
        .clients
        .audit
        .get_checkpoint(proto::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(latest.verifier_key, key.encode());
    s.stop().await;
}

/// Runs the `ddc` CLI.
fn ddc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_MASTER_KEY")
        .output()
        .unwrap()
}

fn verify(s: &TestServer, key: &Verifier, saved: Option<&Path>) -> Output {
    let key = key.encode();
    let mut args = vec!["audit", "verify", "--key", &key, "--server", &s.url];
    let saved = saved.map(|p| p.to_str().unwrap().to_owned());
    if let Some(path) = &saved {
        args.extend(["--checkpoint", path]);
    }
    ddc(&args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies a data directory (server stopped) for one tampering.
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && !path.ends_with(ddc::store::LOCK_FILE) {
            std::fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    to
}

fn copy_keys(from: &Path) -> tempfile::TempDir {
    copy_dir(from)
}

fn tamper(data_dir: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(data_dir.join(ddc::store::DB_FILE)).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddc_audit_verify_catches_any_single_change_to_the_log_in_the_database() {
    let s = busy_server().await;
    let key = published_key(s.key_dir.path());
    let ok = verify(&s, &key, None);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let said = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(said.starts_with("verified: "), "{said}");
    let (data, keys) = s.stop().await;
    let n = db_scalar(data.path(), "SELECT count(*) FROM audit_log");
    assert!(n > 12, "{n} entries");
    let k = n / 2;
    let attacks = [
        ("changed", format!("UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), '\"at_ms\":', '\"at_ms\":1') AS BLOB) WHERE idx = {k}")),
        ("deleted", format!("DELETE FROM audit_log WHERE idx = {k}")),
        ("deleted last", format!("DELETE FROM audit_log WHERE idx = {}", n - 1)),
        ("reordered", format!(
            "CREATE TEMP TABLE pair AS SELECT idx, entry FROM audit_log WHERE idx IN ({k}, {next});
             UPDATE audit_log SET entry = (SELECT entry FROM pair
                 WHERE pair.idx = CASE audit_log.idx WHEN {k} THEN {next} ELSE {k} END)
             WHERE idx IN ({k}, {next})",
            next = k + 1
        )),
        ("inserted", format!(
            "UPDATE audit_log SET idx = -idx - 1 WHERE idx >= {k};
             UPDATE audit_log SET idx = -idx WHERE idx < 0;
             INSERT INTO audit_log (idx, at_ms, actor, kind, datasets, project, release, entry)
                 SELECT {k}, at_ms, actor, kind, datasets, project, NULL, entry FROM audit_log WHERE idx = 0"
        )),
    ];
    for (what, sql) in attacks {
        let (data, keys) = (copy_dir(data.path()), copy_keys(keys.path()));
        tamper(data.path(), &sql);
        let s = TestServer::start_in(data, keys).await;
        let out = verify(&s, &key, None);
        assert!(!out.status.success(), "{what}: verify passed");
        let why = stderr(&out);
        assert!(
            [
                "changed after",
                "not contiguous",
                "entries were removed",
                "came where"
            ]
            .iter()
            .any(|w| why.contains(w)),
            "{what}: {why}"
        );
        s.stop().await;
    }
}

/// Rebuilds the stored tree and checkpoints over the log as it now is, and
/// signs a fresh checkpoint with the server's own key: what an attacker
/// with the key store and the master key can do.
fn re_sign(data_dir: &Path, key_dir: &Path) {
    let master = MasterKey::from_file(&key_dir.join(TEST_MASTER_KEY)).unwrap();
    let keys = KeyStore::open(key_dir, &master).unwrap();
    let signer = ddc::audit::log_signer(
        ddc::audit::DEFAULT_ORIGIN,
        keys.active(KeyPurpose::Signing).unwrap().1,
    )
    .unwrap();
    let conn = rusqlite::Connection::open(data_dir.join(ddc::store::DB_FILE)).unwrap();
    let leaves: Vec<Vec<u8>> = conn
        .prepare("SELECT entry FROM audit_log ORDER BY idx")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    conn.execute_batch("DELETE FROM audit_nodes; DELETE FROM audit_checkpoints;")
        .unwrap();
    let mut frontier = Frontier::new();
    for leaf in &leaves {
        for (level, idx, hash) in frontier.push(merkle::leaf_hash(leaf)) {
            conn.execute(
                "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                rusqlite::params![level, idx as i64, &hash[..]],
            )
            .unwrap();
        }
    }
    let body = Checkpoint {
        origin: ddc::audit::DEFAULT_ORIGIN.into(),
        size: frontier.size(),
        root: frontier.root(),
    }
    .body();
    conn.execute(
        "INSERT INTO audit_checkpoints (size, note) VALUES (?1, ?2)",
        rusqlite::params![frontier.size() as i64, signer.sign(&body).unwrap()],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_rewritten_and_re_signed_with_the_servers_key_fails_against_a_saved_checkpoint() {
    let s = busy_server().await;
    let key = published_key(s.key_dir.path());
    // The auditor saves the checkpoint outside ddc.
    let outside = tempfile::tempdir().unwrap();
    let saved = outside.path().join("checkpoint.txt");
    let out = ddc(&[
        "audit",
        "checkpoint",
        "--server",
        &s.url,
        "--out",
        saved.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (data, keys) = s.stop().await;
    // The attacker changes what an upload stored, rebuilds the tree and
    // re-signs.
    tamper(
        data.path(),
        "UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), '\"rows_stored\":50', '\"rows_stored\":49') AS BLOB) WHERE kind = 'upload.accepted'",
    );
    re_sign(data.path(), keys.path());
    let s = TestServer::start_in(data, keys).await;
    // Trusting a checkpoint from the same database, the rewrite passes...
    let fooled = verify(&s, &key, None);
    assert!(fooled.status.success(), "{}", stderr(&fooled));
    // ...against the checkpoint saved earlier, it does not.
    let caught = verify(&s, &key, Some(&saved));
    assert!(!caught.status.success());
    let why = stderr(&caught);
    assert!(
        why.contains("changed after") || why.contains("prefix"),
        "{why}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_and_a_tampered_export_does_not() {
    let s = busy_server().await;
    let key = published_key(s.key_dir.path());
    let outside = tempfile::tempdir().unwrap();
    let export = outside.path().join("log.jsonl");
    let out = ddc(&[
        "audit",
        "log",
        "--server",
        &s.url,
        "--export",
        export.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.stop().await;
    let offline = |path: &Path| {
        ddc(&[
            "audit",
            "verify",
            "--key",
            &key.encode(),
            "--export",
            path.to_str().unwrap(),
        ])
    };
    let ok = offline(&export);
    assert!(ok.status.success(), "{}", stderr(&ok));
    // Each line is an entry's canonical bytes: anyone can recompute a leaf.
    let text = std::fs::read_to_string(&export).unwrap();
    let mut frontier = Frontier::new();
    for line in text.lines() {
        event::decode(line.as_bytes()).unwrap();
        frontier.push(merkle::leaf_hash(line.as_bytes()));
    }
    let sidecar = std::fs::read_to_string(format!("{}.checkpoint", export.display())).unwrap();
    assert_eq!(
        open_checkpoint(&sidecar, &key).unwrap().root,
        frontier.root()
    );
    let tampered = text.replacen("\"development\"", "\"someone-else\"", 1);
    let bad = outside.path().join("bad.jsonl");
    std::fs::write(&bad, tampered).unwrap();
    std::fs::copy(
        format!("{}.checkpoint", export.display()),
        format!("{}.checkpoint", bad.display()),
    )
    .unwrap();
    let caught = offline(&bad);
    assert!(!caught.status.success());
    assert!(
        stderr(&caught).contains("changed after"),
        "{}",
        stderr(&caught)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_leaves_no_entry_of_its_action() {
    let s = busy_server().await;
    let (data, keys) = s.stop().await;
    tamper(
        data.path(),
        "CREATE TRIGGER full BEFORE INSERT ON uploads BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    let mut s = TestServer::start_in(data, keys).await;
    let before = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'upload.accepted'",
    );
    let file = format!("bsn,decile\n{},lo\n", bsns(3)[2]);
    let e = s
        .upload_with("cbs.p", &file, false, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Internal);
    assert_eq!(s.version("cbs.p").await, 1, "nothing committed");
    let after = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'upload.accepted'",
    );
    assert_eq!(after, before, "no entry for the upload that did not commit");
    // The failure itself is logged, in a transaction of its own.
    let failed = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'upload.broken' AND CAST(entry AS TEXT) LIKE '%\"reason\":\"internal\"%'",
    );
    assert_eq!(failed, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_history_lists_and_shows_releases_without_making_one() {
    let s = busy_server().await;
    let listed = ddc(&["release", "list", "--server", &s.url]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(
        text.lines().count(),
        4,
        "a table and the linkage figures, each with its request: {text}"
    );
    assert!(
        text.contains("asked: count by duo.p.niveau × cbs.p.decile"),
        "{text}"
    );
    assert!(
        text.contains("duo.p ⋈ cbs.p") || text.contains("cbs.p ⋈ duo.p"),
        "{text}"
    );
    let shown = ddc(&["release", "show", "1", "--server", &s.url]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        text.contains("request:") && text.contains("cells:"),
        "{text}"
    );
    let releases = db_scalar(s.data_dir.path(), "SELECT count(*) FROM releases");
    assert_eq!(releases, 2, "showing is not releasing");
    let filtered = ddc(&[
        "release",
        "list",
        "--dataset",
        "nobody.x",
        "--server",
        &s.url,
    ]);
    assert_eq!(String::from_utf8_lossy(&filtered.stdout), "no releases\n");
    let missing = ddc(&["release", "show", "99", "--server", &s.url]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("(NOT_FOUND, RELEASE_NOT_FOUND)"),
        "{}",
        stderr(&missing)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_shows_and_filters_entries() {
    let s = busy_server().await;
    let out = ddc(&["audit", "log", "--kind", "upload", "--server", &s.url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.contains(" upload.")), "{text}");
    assert!(text.contains("\"rows_stored\":50"), "{text}");
    let out = ddc(&[
        "audit",
        "log",
        "--dataset",
        "cbs.p",
        "--since",
        "2000-01-01",
        "--server",
        &s.url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.lines().count() >= 3,
        "created, uploaded, rejected, released: {text}"
    );
    let out = ddc(&["audit", "log", "--until", "2000-01-01", "--server", &s.url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_gets_the_entries_committed_after_it_started() {
    let mut s = busy_server().await;
    let size = entries(&mut s).await.len() as u64;
    let mut follow = s
        .clients
        .audit
        .follow_entries(proto::FollowEntriesRequest {
            from_index: size - 1,
        })
        .await
        .unwrap()
        .into_inner();
    let last = follow.next().await.unwrap().unwrap();
    assert_eq!(last.index, size - 1, "from the index asked");
    s.create("cbs.later", "bsn", &["x:cat:a"]).await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), follow.next())
        .await
        .expect("the new entry arrives")
        .unwrap()
        .unwrap();
    assert_eq!((next.index, next.kind.as_str()), (size, "dataset.created"));
    assert_eq!(next.datasets, ["cbs.later"]);
    drop(follow);
    s.stop().await;
}

/// Releases asked at once are committed in groups: each still gets its own
/// number, its own log entry and a signed checkpoint that includes it, and
/// the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_releases_each_get_their_own_number_entry_and_checkpoint() {
    const TABLES: usize = 24;
    let mut s = busy_server().await;
    let key = published_key(s.key_dir.path());
    let asked: Vec<_> = (0..TABLES)
        .map(|_| {
            let mut release = s.clients.release.clone();
            tokio::spawn(async move {
                release
                    .tabulate(table_request(&["cbs.p.decile"], &[]))
                    .await
                    .map(|t| t.into_inner())
            })
        })
        .collect();
    let mut released = Vec::new();
    for table in asked {
        let table = table.await.unwrap().expect("released");
        let receipt = table.log.expect("a release receipt");
        let checkpoint = open_checkpoint(&receipt.checkpoint, &key).unwrap();
        assert!(checkpoint.size > receipt.index);
        released.push((table.release, receipt.index));
    }
    let numbers: std::collections::BTreeSet<u64> = released.iter().map(|r| r.0).collect();
    let indexes: std::collections::BTreeSet<u64> = released.iter().map(|r| r.1).collect();
    assert_eq!((numbers.len(), indexes.len()), (TABLES, TABLES));
    let all = entries(&mut s).await;
    for (number, index) in &released {
        match &all[*index as usize].1.event {
            Event::TableReleased { release, .. } => assert_eq!(*release as u64, *number),
            other => panic!("entry {index} is {}", other.kind()),
        }
    }
    let out = verify(&s, &key, None);
    assert!(out.status.success(), "{}", stderr(&out));
    s.stop().await;
}
