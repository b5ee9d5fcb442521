//! The store opens only with its own key, for one server at a time, keeps
//! its files private whatever the umask, and migrates older schemas.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{bsns, db_persons, db_scalar, table_request, TestServer};
use ddc::disclosure::DisclosurePolicy;
use ddc::keystore::KEY_STORE_FILE;
use ddc::server::{LocalServer, ServerError};
use ddc::store::{DB_FILE, LOCK_FILE};

/// Starts a server on `config` expecting it to refuse; returns why.
async fn refusal(data_dir: &tempfile::TempDir, key_dir: &tempfile::TempDir) -> String {
    let config = TestServer::config(data_dir, key_dir, DisclosurePolicy::default());
    let server = LocalServer::start(config).await.unwrap();
    let err: ServerError = server
        .stop()
        .await
        .expect_err("the server refuses to start");
    err.to_string()
}

/// Rewrites the rows of [`server_with_persons`] (persons 0 to 19, `x` = 1,
/// `g` = code 0) as stores before version 10 wrote them: fixed-width
/// arrays, 4 bytes a `u32` and 8 an `i64`, without the `packing` column.
fn unpack_to_fixed_width(conn: &rusqlite::Connection) {
    let persons: Vec<u8> = (0u32..20).flat_map(u32::to_le_bytes).collect();
    let x: Vec<u8> = [1i64; 20].iter().flat_map(|v| v.to_le_bytes()).collect();
    let g = vec![0u8; 20 * 4];
    conn.execute_batch("ALTER TABLE column_chunks DROP COLUMN packing")
        .unwrap();
    for (column, data) in [(-1i64, persons), (0, x), (1, g)] {
        let changed = conn
            .execute(
                "UPDATE column_chunks SET data = ?1 WHERE column_index = ?2 AND chunk = 0",
                rusqlite::params![data, column],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    let chunks = db_chunks(conn);
    assert_eq!(chunks, 3, "persons, x and g, one chunk each");
}

fn db_chunks(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM column_chunks", [], |r| r.get(0))
        .unwrap()
}

async fn server_with_persons() -> TestServer {
    let mut s = TestServer::start().await;
    s.create("cbs.p", "bsn", &["x:int", "g:cat:a"]).await;
    let body: String = bsns(20).iter().map(|b| format!("{b},1,a\n")).collect();
    s.upload("cbs.p", &format!("bsn,x,g\n{body}"))
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_key_directory_is_refused_and_no_key_is_made_for_a_store_with_persons() {
    let (data_dir, key_dir) = server_with_persons().await.stop().await;
    let empty = tempfile::tempdir().unwrap();
    let why = refusal(&data_dir, &empty).await;
    assert!(why.contains("no key"), "{why}");
    assert!(
        !empty.path().join(KEY_STORE_FILE).exists(),
        "no key was created"
    );

    // A key directory holding another key (that of another store), given
    // to a store that has not yet recorded a signing or audit key: refused
    // before anything is recorded or logged.
    let other = TestServer::start().await;
    let (_other_data, other_keys) = other.stop().await;
    let db = |sql: &str| db_scalar(data_dir.path(), sql);
    rusqlite::Connection::open(data_dir.path().join(DB_FILE))
        .unwrap()
        .execute(
            "DELETE FROM store_keys WHERE purpose IN ('signing', 'audit')",
            [],
        )
        .unwrap();
    let entries = db("SELECT count(*) FROM audit_log");
    let why = refusal(&data_dir, &other_keys).await;
    assert!(
        why.contains("not the key this store was written with"),
        "{why}"
    );
    assert_eq!(
        db("SELECT count(*) FROM audit_log"),
        entries,
        "nothing logged"
    );
    assert_eq!(
        db("SELECT count(*) FROM store_keys WHERE purpose = 'signing'"),
        0
    );

    // With its own key the store opens as before, and records its keys.
    let mut s = TestServer::start_in(data_dir, key_dir).await;
    assert_eq!(s.version("cbs.p").await, 1);
    let recorded = "SELECT count(*) FROM store_keys WHERE purpose IN ('signing', 'audit')";
    assert_eq!(db_scalar(s.data_dir.path(), recorded), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let s = TestServer::start().await;
    let other_keys = tempfile::tempdir().unwrap();
    let why = refusal(&s.data_dir, &other_keys).await;
    assert!(why.contains("in use by another ddc server"), "{why}");
    assert!(why.contains(LOCK_FILE), "{why}");
    // The lock goes with the server: a restart opens the store.
    let s = s.restart().await;
    s.stop().await;
}

#[test]
fn ddc_serve_exits_non_zero_naming_the_lock() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let s = runtime.block_on(TestServer::start());
    let output = common::serve_with_master_key(s.data_dir.path(), s.key_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(LOCK_FILE), "{stderr}");
    runtime.block_on(s.stop());
}

/// Runs `ddc serve` on the directories with `master` as its master key
/// argument (none if `None`); it must exit non-zero. Returns its stderr.
fn serve_refusal(data: &Path, keys: &Path, master: Option<&Path>) -> String {
    let mut command = common::serve_command(data, keys);
    if let Some(m) = master {
        command.arg("--master-key-file").arg(m);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ddc_serve_refuses_a_missing_or_wrong_master_key_and_a_tampered_key_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (data, keys) = runtime.block_on(async { server_with_persons().await.stop().await });
    let why = serve_refusal(data.path(), keys.path(), None);
    assert!(why.contains("no master key"), "{why}");
    let wrong = tempfile::tempdir().unwrap();
    let wrong_key = wrong.path().join("master.key");
    ddc::keystore::MasterKey::generate()
        .unwrap()
        .write_new_file(&wrong_key)
        .unwrap();
    let why = serve_refusal(data.path(), keys.path(), Some(&wrong_key));
    assert!(why.contains("fails authentication"), "{why}");
    // The right master key, but a key store with one byte changed.
    let store = keys.path().join(KEY_STORE_FILE);
    let mut bytes = std::fs::read(&store).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&store, &bytes).unwrap();
    let master = keys.path().join(common::TEST_MASTER_KEY);
    let why = serve_refusal(data.path(), keys.path(), Some(&master));
    assert!(why.contains("fails authentication"), "{why}");
    // A master key kept in the data directory is refused.
    let inside = data.path().join("master.key");
    std::fs::copy(&master, &inside).unwrap();
    let why = serve_refusal(data.path(), keys.path(), Some(&inside));
    assert!(
        why.contains("must not lie inside the data directory"),
        "{why}"
    );
    // `ddc serve` never makes a key store, even for a new data directory.
    let (fresh_data, fresh_keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let why = serve_refusal(fresh_data.path(), fresh_keys.path(), Some(&master));
    assert!(why.contains("ddc keys init"), "{why}");
    assert!(!fresh_keys.path().join(KEY_STORE_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_store_is_migrated_to_the_current_version_keeping_its_data_links_and_log() {
    let (data_dir, key_dir) = server_with_persons().await.stop().await;
    // Turn the store back into what version 2 wrote: no code lists,
    // released populations (here persons 0, 1, …, 19) instead of cells, a
    // check value per key version, and the whole HMAC unsealed as each
    // person's pseudonym (its first 16 bytes are the pseudonym).
    let conn = rusqlite::Connection::open(data_dir.path().join(DB_FILE)).unwrap();
    unpack_to_fixed_width(&conn);
    let storage = common::storage_key(key_dir.path());
    let chunks: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT first_person, pseudonyms FROM person_chunks")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (first, blob) in chunks {
        let unsealed: Vec<u8> = blob
            .chunks(16)
            .flat_map(|b| {
                let p = storage.unseal(b.try_into().unwrap());
                [&p.as_bytes()[..], &[0xa5; 16]].concat()
            })
            .collect();
        conn.execute(
            "UPDATE person_chunks SET pseudonyms = ?1, key_version = 1 WHERE first_person = ?2",
            rusqlite::params![unsealed, first],
        )
        .unwrap();
    }
    conn.execute_batch(
        "CREATE TABLE key_checks (key_version INTEGER PRIMARY KEY,
             check_value BLOB NOT NULL, recorded_ms INTEGER NOT NULL);
         INSERT INTO key_checks SELECT version, check_value, since_ms
             FROM store_keys WHERE purpose = 'hash';
         DROP TABLE store_keys;
         DROP TABLE code_lists; DROP TABLE secrets;
         DROP TABLE release_cell_sets; DROP TABLE cell_sets;
         DROP TABLE audit_checkpoints; DROP TABLE audit_nodes; DROP TABLE audit_log;
         CREATE TABLE audit (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
             actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
         INSERT INTO audit (at_ms, actor, action, detail) VALUES
             (1, 'development', 'dataset.create', '{\"dataset\":\"cbs.p\"}'),
             (2, 'development', 'dataset.upload', '{\"dataset\":\"cbs.p\",\"rows_read\":20}');
         INSERT INTO releases (project, at_ms, actor, request, policy, cells)
             VALUES ('p', 0, 'a', '{}', '{}', '[]');
         CREATE TABLE release_populations (
             id INTEGER PRIMARY KEY, release INTEGER NOT NULL, datasets TEXT NOT NULL,
             size INTEGER NOT NULL, digest BLOB NOT NULL, sides BLOB NOT NULL,
             persons BLOB NOT NULL);
         INSERT INTO release_populations (release, datasets, size, digest, sides, persons)
             VALUES (1, 'cbs.p', 20, zeroblob(32), zeroblob(32),
                     X'0001010101010101010101010101010101010101');
         CREATE TABLE column_chunks_v2 (dataset INTEGER NOT NULL REFERENCES datasets(id),
             column_index INTEGER NOT NULL, chunk INTEGER NOT NULL, data BLOB NOT NULL,
             UNIQUE (dataset, column_index, chunk));
         INSERT INTO column_chunks_v2 SELECT dataset, column_index, chunk, data FROM column_chunks;
         DROP TABLE column_chunks;
         ALTER TABLE column_chunks_v2 RENAME TO column_chunks;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(db_scalar(data_dir.path(), "PRAGMA user_version"), 2);

    let mut s = TestServer::start_in(data_dir, key_dir).await;
    // The first answer comes once the store is open (and migrated).
    assert_eq!(
        s.version("cbs.p").await,
        1,
        "the dataset and its rows are kept"
    );
    assert_eq!(db_scalar(s.data_dir.path(), "PRAGMA user_version"), 10);
    assert_eq!(
        db_scalar(s.data_dir.path(), "SELECT count(*) FROM projects"),
        0,
        "the projects table exists, empty"
    );
    // The old free-form entries are the log's first leaves, then the sealing.
    let kinds = |sql: &str| db_scalar(s.data_dir.path(), sql);
    assert_eq!(
        kinds("SELECT count(*) FROM audit_log WHERE kind = 'legacy' AND idx < 2"),
        2
    );
    assert_eq!(
        kinds("SELECT count(*) FROM audit_log WHERE kind = 'key.sealed'"),
        1
    );
    assert_eq!(
        kinds("SELECT count(*) FROM sqlite_master WHERE name = 'audit'"),
        0
    );
    assert_eq!(db_persons(s.data_dir.path()), 20);
    // The pseudonyms are sealed now, and still link: the same persons in a
    // new dataset are no new persons.
    let (sealed, versions) = common::sealed_pseudonyms(s.data_dir.path());
    assert_eq!((sealed.len(), versions), (20, vec![1]));
    s.create("duo.p", "bsn", &["y:int"]).await;
    let body: String = bsns(20).iter().map(|b| format!("{b},2\n")).collect();
    s.upload("duo.p", &format!("bsn,y\n{body}")).await.unwrap();
    assert_eq!(db_persons(s.data_dir.path()), 20, "every person linked");
    // The population became the print of one released cell, with sides
    // digested the old way: the same total asked again is refused
    // (conservative), since its sides cannot be compared.
    let refused = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap_err();
    assert_eq!(refused.message(), ddc::engine::POPULATION_REFUSAL);
    let dir = s.data_dir.path();
    assert_eq!(db_scalar(dir, "SELECT count(*) FROM cell_sets"), 1);
    assert_eq!(db_scalar(dir, "SELECT count(*) FROM release_cell_sets"), 1);
    assert_eq!(
        db_scalar(
            dir,
            "SELECT count(*) FROM sqlite_master WHERE name = 'release_populations'"
        ),
        0
    );
    let request = ddc::proto::CreateCodeListRequest {
        name: "kleur".into(),
        parent: String::new(),
        codes: vec![ddc::proto::Code {
            code: "rood".into(),
            label: "Rood".into(),
            ..Default::default()
        }],
    };
    let list = s
        .clients
        .classifications
        .create_code_list(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.version, 1);
    let s = s.restart().await;
    assert_eq!(
        db_scalar(s.data_dir.path(), "SELECT count(*) FROM code_lists"),
        1
    );
    s.stop().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_private_whatever_the_umask_and_an_exposed_key_is_refused() {
    // This binary's only test that changes the umask; the others create
    // their files before or after, under their own checks.
    let previous = umask(0o000);
    let root = tempfile::tempdir().unwrap();
    let (data, keys) = (root.path().join("data"), root.path().join("data.keys"));
    let config =
        ddc::server::ServerConfig::new(data.clone(), keys.clone(), DisclosurePolicy::default());
    let server = LocalServer::start(config.clone()).await.unwrap();
    let mut clients = server.connect().await.unwrap();
    clients
        .ingest
        .list_datasets(ddc::proto::ListDatasetsRequest {})
        .await
        .unwrap();
    umask(previous);
    for dir in [&data, &keys] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    let mut files = vec![keys.join(KEY_STORE_FILE), data.join(LOCK_FILE)];
    for suffix in ["", "-wal", "-shm"] {
        files.push(data.join(format!("{DB_FILE}{suffix}")));
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    drop(clients);
    server.stop().await.unwrap();

    ddc::private_fs::set_mode(&keys.join(KEY_STORE_FILE), 0o644).unwrap();
    let server = LocalServer::start(config).await.unwrap();
    let why = server.stop().await.unwrap_err().to_string();
    assert!(why.contains("may be read by other users"), "{why}");
}

fn umask(mask: u32) -> u32 {
    // SAFETY: umask has no preconditions; it is process-wide, which is why
    // this test is the only one in its binary to call it.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_repeat_of_a_release_stores_its_cells_once() {
    let mut s = server_with_persons().await;
    let request = table_request(&["cbs.p.g"], &[]);
    let first = s.table(request.clone()).await.unwrap();
    let again = s.table(request).await.unwrap();
    assert_eq!(first.cells, again.cells);
    let dir = s.data_dir.path();
    assert_eq!(db_scalar(dir, "SELECT count(*) FROM releases"), 2);
    assert_eq!(db_scalar(dir, "SELECT count(*) FROM release_cell_sets"), 2);
    assert_eq!(db_scalar(dir, "SELECT count(*) FROM cell_sets"), 1);
    // Both releases refer to the one set, which survives a restart.
    let s = s.restart().await;
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(
            dir,
            "SELECT count(DISTINCT cell_set) FROM release_cell_sets"
        ),
        1
    );
    s.stop().await;
}

/// Stores written before version 10 hold fixed-width rows: they are read
/// as they were, and new uploads are packed beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_before_packing_read_as_before() {
    let mut s = server_with_persons().await;
    let before = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap();
    let (data_dir, key_dir) = s.stop().await;
    let conn = rusqlite::Connection::open(data_dir.path().join(DB_FILE)).unwrap();
    unpack_to_fixed_width(&conn);
    conn.execute_batch("PRAGMA user_version = 9").unwrap();
    drop(conn);

    let mut s = TestServer::start_in(data_dir, key_dir).await;
    let again = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap();
    assert_eq!(again.cells, before.cells, "the same rows");
    let dir = s.data_dir.path();
    assert_eq!(db_scalar(dir, "PRAGMA user_version"), 10);
    assert_eq!(
        db_scalar(dir, "SELECT count(*) FROM column_chunks WHERE packing = 0"),
        3
    );
    // A second dataset is packed; the first still reads.
    s.create("duo.p", "bsn", &["y:int"]).await;
    let body: String = bsns(20).iter().map(|b| format!("{b},2\n")).collect();
    s.upload("duo.p", &format!("bsn,y\n{body}")).await.unwrap();
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(dir, "SELECT count(*) FROM column_chunks WHERE packing = 1"),
        2
    );
    let mut s = s.restart().await;
    let third = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap();
    assert_eq!(third.cells, before.cells);
    s.stop().await;
}

/// An upload stages its rows under the version they will become before one
/// small transaction makes that version the dataset's. Rows a crash left
/// staged are never read, and are deleted when the store opens; a replaced
/// version's rows are deleted once the new one is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_staged_by_an_upload_that_never_committed_are_not_read_and_are_deleted() {
    let mut s = server_with_persons().await;
    let before = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap();
    let (data_dir, key_dir) = s.stop().await;
    // What a crash after staging version 2 leaves: its chunks, and the
    // dataset still at version 1.
    let conn = rusqlite::Connection::open(data_dir.path().join(DB_FILE)).unwrap();
    let staged = conn
        .execute(
            "INSERT INTO column_chunks (dataset, version, column_index, chunk, packing, data)
             SELECT dataset, 2, column_index, chunk, packing, data FROM column_chunks",
            [],
        )
        .unwrap();
    assert!(staged > 0);
    drop(conn);

    let mut s = TestServer::start_in(data_dir, key_dir).await;
    assert_eq!(s.version("cbs.p").await, 1);
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(dir, "SELECT count(*) FROM column_chunks WHERE version = 2"),
        0,
        "the staged rows are gone"
    );
    let again = s.table(table_request(&["cbs.p.g"], &[])).await.unwrap();
    assert_eq!(again.cells, before.cells, "the same rows");

    // A replace stages version 2, commits it and deletes version 1's rows.
    let body: String = bsns(30).iter().map(|b| format!("{b},1,a\n")).collect();
    let upload = ddc::proto::UploadHeader {
        dataset: "cbs.p".into(),
        replace: true,
        upload_id: ddc::client::new_upload_id(),
        ..Default::default()
    };
    let csv = format!("bsn,x,g\n{body}");
    ddc::client::upload(
        &mut s.clients.ingest,
        upload,
        std::io::Cursor::new(csv.into_bytes()),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(s.version("cbs.p").await, 2);
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(dir, "SELECT count(DISTINCT version) FROM column_chunks"),
        1
    );
    assert_eq!(db_scalar(dir, "SELECT min(version) FROM column_chunks"), 2);
    assert_eq!(common::db_rows(dir), 30);
}
