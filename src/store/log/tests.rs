use super::*;
use crate::audit::event::Event;
use crate::audit::note::open_checkpoint;

fn signer() -> Signer {
    Signer::from_seed("ddc.test/log", &[3; 32]).unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.attach_signer(signer());
    (dir, store)
}

fn started(i: i64) -> Entry {
    Entry::new(
        i,
        "server",
        Event::ServerStarted {
            version: i.to_string(),
        },
    )
}

#[test]
fn each_append_signs_a_checkpoint_that_includes_it() {
    let (_dir, mut store) = store();
    let verifier = signer().verifier();
    let mut frontier = Frontier::new();
    for i in 0..20 {
        let receipt = store.append_entry(&started(i)).unwrap();
        assert_eq!(receipt.index, i as u64);
        frontier.push(merkle::leaf_hash(&event::encode(&started(i)).unwrap()));
        let checkpoint = open_checkpoint(&receipt.checkpoint, &verifier).unwrap();
        assert_eq!(checkpoint.size, i as u64 + 1);
        assert_eq!(
            checkpoint.root,
            frontier.root(),
            "the root of the entries so far"
        );
        assert_eq!(checkpoint.origin, "ddc.test/log");
    }
    assert_eq!(store.log_size().unwrap(), 20);
    assert_eq!(store.log_root(20).unwrap(), frontier.root());
}

#[test]
fn stored_proofs_verify_against_the_signed_roots() {
    let (_dir, mut store) = store();
    let receipts: Vec<_> = (0..13)
        .map(|i| store.append_entry(&started(i)).unwrap())
        .collect();
    let verifier = signer().verifier();
    let roots: Vec<_> = receipts
        .iter()
        .map(|r| open_checkpoint(&r.checkpoint, &verifier).unwrap())
        .collect();
    for new in &roots {
        for index in 0..new.size {
            let proof = store.inclusion_proof(index, new.size).unwrap();
            let bytes = event::encode(&started(index as i64)).unwrap();
            merkle::verify_inclusion(&bytes, index, new.size, &proof, &new.root).unwrap();
        }
        for old in roots.iter().filter(|o| o.size <= new.size) {
            let proof = store.consistency_proof(old.size, new.size).unwrap();
            merkle::verify_consistency(old.size, &old.root, new.size, &new.root, &proof).unwrap();
        }
    }
    assert!(matches!(
        store.inclusion_proof(0, 14),
        Err(StoreError::LogRange(_))
    ));
    assert!(matches!(
        store.consistency_proof(3, 20),
        Err(StoreError::LogRange(_))
    ));
}

#[test]
fn an_entry_whose_transaction_rolls_back_leaves_nothing() {
    let (_dir, mut store) = store();
    store.append_entry(&started(0)).unwrap();
    {
        let signer = LogSigner::new(signer());
        let tx = store.conn.transaction().unwrap();
        append(&tx, &signer, &started(1)).unwrap();
        // Dropped without commit: the action failed.
    }
    assert_eq!(store.log_size().unwrap(), 1);
    let n: i64 = store
        .conn
        .query_row("SELECT count(*) FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "no checkpoint of the rolled-back entry");
    let receipt = store.append_entry(&started(2)).unwrap();
    assert_eq!(receipt.index, 1, "the next entry takes the free index");
}

#[test]
fn a_changed_stored_tree_stops_all_signing() {
    let (_dir, mut store) = store();
    for i in 0..5 {
        store.append_entry(&started(i)).unwrap();
    }
    store
        .conn
        .execute(
            "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0",
            [],
        )
        .unwrap();
    assert!(matches!(
        store.append_entry(&started(5)),
        Err(StoreError::LogTampered(_))
    ));
    assert_eq!(store.log_size().unwrap(), 5);
}

#[test]
fn filters_narrow_by_kind_family_actor_dataset_project_and_time() {
    let (_dir, mut store) = store();
    let failure = crate::audit::event::UploadFailure {
        dataset: "duo.leerlingen".into(),
        organisation: "duo".into(),
        reason: "no_rows".into(),
        rows_rejected: 0,
        bytes: 0,
        content_digest: String::new(),
    };
    store.append_entry(&started(10)).unwrap();
    store
        .append_entry(&Entry::new(
            20,
            "duo",
            Event::UploadRejected(failure.clone()),
        ))
        .unwrap();
    store
        .append_entry(&Entry::new(30, "duo", Event::UploadBroken(failure)))
        .unwrap();
    let refused = Event::TableRefused {
        project: "p1".into(),
        request: serde_json::json!({}),
        rule: "r".into(),
    };
    store.append_entry(&Entry::new(40, "ana", refused)).unwrap();
    let indexes = |f: LogFilter| -> Vec<u64> {
        store
            .log_entries(&f)
            .unwrap()
            .iter()
            .map(|e| e.index)
            .collect()
    };
    let all = LogFilter::default();
    assert_eq!(indexes(all.clone()), [0, 1, 2, 3]);
    assert_eq!(
        indexes(LogFilter {
            kind: Some("upload".into()),
            ..all.clone()
        }),
        [1, 2]
    );
    assert_eq!(
        indexes(LogFilter {
            kind: Some("upload.broken".into()),
            ..all.clone()
        }),
        [2]
    );
    assert_eq!(
        indexes(LogFilter {
            kind: Some("uplo".into()),
            ..all.clone()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        indexes(LogFilter {
            actor: Some("duo".into()),
            ..all.clone()
        }),
        [1, 2]
    );
    assert_eq!(
        indexes(LogFilter {
            dataset: Some("duo.leerlingen".into()),
            ..all.clone()
        }),
        [1, 2]
    );
    assert_eq!(
        indexes(LogFilter {
            project: Some("p1".into()),
            ..all.clone()
        }),
        [3]
    );
    assert_eq!(
        indexes(LogFilter {
            from_ms: Some(20),
            to_ms: Some(40),
            ..all.clone()
        }),
        [1, 2]
    );
    assert_eq!(
        indexes(LogFilter {
            from_index: 2,
            limit: 1,
            ..all
        }),
        [2]
    );
}

#[test]
fn entries_cannot_be_appended_before_a_signer_is_attached() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    assert!(matches!(
        store.append_entry(&started(0)),
        Err(StoreError::LogClosed)
    ));
}

#[test]
fn a_legacy_audit_table_becomes_the_first_leaves_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        let tx = store.conn.transaction().unwrap();
        // Back to schema 5: the free-form table with two rows, and the
        // release cells of version 4.
        tx.execute_batch(
            "DROP TABLE audit_checkpoints; DROP TABLE audit_nodes; DROP TABLE audit_log;
             DROP TABLE release_cell_sets; DROP TABLE cell_sets;
             CREATE TABLE release_cells (id INTEGER PRIMARY KEY,
                 release INTEGER NOT NULL REFERENCES releases(id),
                 datasets TEXT NOT NULL, cells BLOB NOT NULL);
             CREATE TABLE audit (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                 actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
             INSERT INTO audit (at_ms, actor, action, detail) VALUES
                 (1, 'development', 'dataset.create', '{\"dataset\":\"a\"}'),
                 (2, 'development', 'dataset.upload', 'null');
             PRAGMA user_version = 5;",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let mut store = Store::open(dir.path()).unwrap();
    store.attach_signer(signer());
    let entries = store.log_entries(&LogFilter::default()).unwrap();
    assert_eq!(entries.len(), 2);
    let first = event::decode(&entries[0].bytes).unwrap();
    assert_eq!(first.actor, "development");
    assert_eq!(
        first.event,
        Event::Legacy {
            action: "dataset.create".into(),
            detail: r#"{"dataset":"a"}"#.into()
        }
    );
    let receipt = store.append_entry(&started(3)).unwrap();
    assert_eq!(receipt.index, 2);
    let root = open_checkpoint(&receipt.checkpoint, &signer().verifier())
        .unwrap()
        .root;
    let leaves: Vec<_> = store
        .log_entries(&LogFilter::default())
        .unwrap()
        .iter()
        .map(|e| merkle::leaf_hash(&e.bytes))
        .collect();
    let mut frontier = Frontier::new();
    leaves.into_iter().for_each(|l| {
        frontier.push(l);
    });
    assert_eq!(root, frontier.root());
}
