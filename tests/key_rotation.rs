//! Storage key rotation: links survive, record keys (and so the noise) do
//! not change, no pre-rotation pseudonym is left in the data directory, the
//! old key store cannot read the new store, and a server killed at any
//! point of a rotation restarts consistent and complete.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bsns, db_persons, db_scalar, table_request, TestServer, TEST_MASTER_KEY};
use ddc::keystore::{KeyPurpose, KeyStore, MasterKey, KEY_STORE_FILE};
use ddc::proto::{self, RotateStorageKeyRequest};

const PERSONS: usize = 60;

/// `cbs.p`: 60 persons in 20 households of three, g = a or b.
async fn server_with_households() -> TestServer {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("ddc=warn")
        .with_test_writer()
        .try_init();
    let mut s = TestServer::start().await;
    s.try_create_with_households(
        "cbs.p",
        "bsn",
        "hh",
        &["g:cat:a,b", "inkomen:int:household"],
    )
    .await
    .unwrap();
    let body: String = bsns(PERSONS)
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{b},H{},{},{}\n", i / 3, ["a", "b"][i % 2], 1000 * (i / 3)))
        .collect();
    s.upload("cbs.p", &format!("bsn,hh,g,inkomen\n{body}"))
        .await
        .unwrap();
    s
}

/// Uploads the same persons (and, with `hh`, the same households) into a
/// new dataset `name`.
async fn upload_again(s: &mut TestServer, name: &str, hh: bool) {
    let household = if hh { "hh" } else { "" };
    s.try_create_with_households(name, "bsn", household, &["l:cat:x,y"])
        .await
        .unwrap();
    let body: String = bsns(PERSONS)
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let hh = if hh {
                format!("H{},", i / 3)
            } else {
                String::new()
            };
            format!("{b},{hh}{}\n", ["x", "y"][usize::from(i % 3 == 0)])
        })
        .collect();
    let header = if hh { "bsn,hh,l" } else { "bsn,l" };
    s.upload(name, &format!("{header}\n{body}")).await.unwrap();
}

async fn rotate(s: &mut TestServer) -> proto::RotateStorageKeyResponse {
    s.clients
        .admin
        .rotate_storage_key(RotateStorageKeyRequest {})
        .await
        .unwrap()
        .into_inner()
}

fn households(dir: &Path) -> i64 {
    db_scalar(dir, "SELECT coalesce(sum(count), 0) FROM household_chunks")
}

fn record_keys(dir: &Path) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(dir.join(ddc::store::DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT record_keys FROM person_chunks ORDER BY first_person")
        .unwrap();
    let keys = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    keys
}

fn storage_versions(s: &TestServer) -> Vec<u32> {
    let (_, mut versions) = common::sealed_pseudonyms(s.data_dir.path());
    versions.sort_unstable();
    versions.dedup();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_survives_two_rotations_and_the_noise_stays_the_same() {
    let mut s = server_with_households().await;
    let request = || table_request(&["cbs.p.g", "duo.p.l"], &[]);
    upload_again(&mut s, "duo.p", false).await;
    let before = s.table(request()).await.unwrap();
    let keys_before = record_keys(s.data_dir.path());

    let first = rotate(&mut s).await;
    assert_eq!((first.from_version, first.to_version), (1, 2));
    assert_eq!((first.persons, first.households), (PERSONS as u64, 20));
    assert_eq!(storage_versions(&s), [2]);
    // The rewritten file has the pages of a new store.
    let conn = rusqlite::Connection::open(s.data_dir.path().join(ddc::store::DB_FILE)).unwrap();
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 65536);
    drop(conn);
    // Records uploaded after the rotation link to those from before.
    upload_again(&mut s, "duo.q", true).await;
    assert_eq!(db_persons(s.data_dir.path()), PERSONS as i64);
    assert_eq!(households(s.data_dir.path()), 20, "every household linked");

    let second = rotate(&mut s).await;
    assert_eq!((second.from_version, second.to_version), (2, 3));
    let mut s = s.restart().await;
    assert_eq!(s.version("cbs.p").await, 1);
    assert_eq!(storage_versions(&s), [3]);
    upload_again(&mut s, "duo.r", true).await;
    assert_eq!(db_persons(s.data_dir.path()), PERSONS as i64);
    assert_eq!(households(s.data_dir.path()), 20);
    // Record keys are not pseudonyms: unchanged, and so is every cell's noise.
    assert_eq!(record_keys(s.data_dir.path()), keys_before);
    let after = s.table(request()).await.unwrap();
    assert_eq!(after.cells, before.cells);
    s.stop().await;
}

/// Every 16-byte window of every file under `dir` that is in `values`.
fn found_in(dir: &Path, values: &HashSet<[u8; 16]>) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let hits = bytes
            .windows(16)
            .filter(|w| values.contains(<&[u8; 16]>::try_from(*w).unwrap()))
            .count();
        if hits > 0 {
            found.push(format!("{}: {hits}", path.display()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_no_old_pseudonym_remains_and_the_old_key_store_reads_nothing() {
    let mut s = server_with_households().await;
    let (old_sealed, _) = common::sealed_pseudonyms(s.data_dir.path());
    let old: HashSet<[u8; 16]> = old_sealed.iter().copied().collect();
    assert_eq!(old.len(), PERSONS + 20);
    // The check can fail: before the rotation the values are on disk.
    assert!(!found_in(s.data_dir.path(), &old).is_empty());
    let backup = tempfile::tempdir().unwrap();
    for file in [KEY_STORE_FILE, TEST_MASTER_KEY] {
        std::fs::copy(s.key_dir.path().join(file), backup.path().join(file)).unwrap();
    }

    rotate(&mut s).await;
    // Uploads and releases after the rotation write to the new file.
    upload_again(&mut s, "duo.p", true).await;
    assert!(
        found_in(s.data_dir.path(), &old).is_empty(),
        "pre-rotation pseudonyms remain: {:?}",
        found_in(s.data_dir.path(), &old)
    );
    let (new_sealed, _) = common::sealed_pseudonyms(s.data_dir.path());
    let current = common::storage_key(s.key_dir.path());
    let master = MasterKey::from_file(&backup.path().join(TEST_MASTER_KEY)).unwrap();
    let old_keys = KeyStore::open(backup.path(), &master).unwrap();
    let (v1, key) = old_keys.active(KeyPurpose::Storage).unwrap();
    let old_storage = ddc::sealing::StorageKey::new(key, v1);
    // The old storage key unseals the new values to nothing that links.
    for sealed in &new_sealed {
        assert_ne!(old_storage.unseal(sealed), current.unseal(sealed));
        assert!(!old.contains(sealed));
    }
    // The current key store holds no trace of version 1.
    let keys = KeyStore::open(s.key_dir.path(), &master).unwrap();
    assert!(keys.key(KeyPurpose::Storage, v1).is_none());
    let status = s
        .clients
        .admin
        .key_status(proto::KeyStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let storage: Vec<_> = status
        .keys
        .iter()
        .filter(|k| k.purpose == proto::KeyPurpose::Storage as i32)
        .map(|k| (k.version, k.active, k.retired_ms > 0))
        .collect();
    assert_eq!(storage, [(1, false, true), (2, true, false)]);
    s.stop().await;
}

/// Lines of a child's stderr, as they come.
fn lines_of(stderr: std::process::ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn a_server_killed_anywhere_in_a_rotation_restarts_consistent_and_complete() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for point in ["key-added", "copied", "built", "swapped", "activated"] {
        let (data, keys) = runtime.block_on(async { server_with_households().await.stop().await });
        let mut child = common::serve_with_master_key(data.path(), keys.path())
            .env("DDC_TEST_ROTATION_PAUSE", point)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stderr.take().unwrap());
        let url = common::loopback_url(&wait_for(&lines, "serving"));
        let call = runtime.spawn(async move {
            let mut clients = ddc::client::connect(&url).await.unwrap();
            clients
                .admin
                .rotate_storage_key(RotateStorageKeyRequest {})
                .await
        });
        wait_for(&lines, &format!("rotation paused at {point}"));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(
            runtime.block_on(call).unwrap().is_err(),
            "{point}: no answer"
        );

        runtime.block_on(async {
            let mut s = TestServer::start_in(data, keys).await;
            // The first answer comes once the store is open (and settled).
            assert_eq!(s.version("cbs.p").await, 1);
            assert_eq!(
                storage_versions(&s),
                [2],
                "{point}: one version, the new one"
            );
            let dir = s.data_dir.path();
            assert!(!dir.join(ddc::store::REWRITE_FILE).exists(), "{point}");
            assert_eq!(
                db_scalar(
                    dir,
                    "SELECT count(*) FROM audit_log WHERE kind = 'key.rotated'"
                ),
                1,
                "{point}: the rotation is recorded once"
            );
            let keys = KeyStore::open(
                s.key_dir.path(),
                &MasterKey::from_file(&s.key_dir.path().join(TEST_MASTER_KEY)).unwrap(),
            )
            .unwrap();
            assert_eq!(keys.active(KeyPurpose::Storage).unwrap().0 .0, 2, "{point}");
            assert!(keys.pending(KeyPurpose::Storage).is_none(), "{point}");
            assert!(keys
                .key(KeyPurpose::Storage, ddc::keys::KeyVersion(1))
                .is_none());
            upload_again(&mut s, "duo.p", true).await;
            assert_eq!(db_persons(s.data_dir.path()), PERSONS as i64, "{point}");
            assert_eq!(households(s.data_dir.path()), 20, "{point}");
            let mut s = s.restart().await;
            assert_eq!(s.version("cbs.p").await, 1);
            assert_eq!(storage_versions(&s), [2], "{point}");
            s.stop().await;
        });
    }
}

/// Runs the `ddc` CLI; returns its stdout, asserting success.
fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_MASTER_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_rotates_the_storage_key_and_shows_the_key_status() {
    let s = server_with_households().await;
    let rotated = cli(&["keys", "rotate", "--server", &s.url]);
    assert!(
        rotated.contains("from version 1 to 2: 60 persons and 20 households resealed"),
        "{rotated}"
    );
    let live = cli(&["keys", "status", "--server", &s.url]);
    let key_dir = s.key_dir.path().to_str().unwrap().to_owned();
    let master = s.key_dir.path().join(TEST_MASTER_KEY);
    let offline = cli(&[
        "keys",
        "status",
        "--key-dir",
        &key_dir,
        "--master-key-file",
        master.to_str().unwrap(),
    ]);
    assert_eq!(live, offline, "the server and the key directory agree");
    let lines: Vec<&str> = live.lines().collect();
    assert_eq!(lines.len(), 5, "{live}");
    assert!(lines[0].starts_with("hash     v1   active"), "{live}");
    assert!(lines[1].starts_with("storage  v1   destroyed 20"), "{live}");
    assert!(lines[2].starts_with("signing  v1   active"), "{live}");
    assert!(lines[3].starts_with("audit    v1   active"), "{live}");
    assert!(lines[4].starts_with("storage  v2   active"), "{live}");
    assert!(live.contains(" UTC"), "{live}");
    s.stop().await;
}
