use super::*;
use crate::audit::event::Event;
use crate::audit::note::{open_checkpoint, Signer};

fn signer() -> Signer {
    Signer::from_seed("ddc.test/log", &[5; 32]).unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.attach_signer(signer());
    (dir, store)
}

/// A release of project `p{k}` whose entry names its number.
fn pending(k: usize) -> PendingRelease {
    PendingRelease {
        record: ReleaseRecord {
            project: format!("p{k}"),
            request: "{}".into(),
            policy: "{}".into(),
            cells: "[]".into(),
        },
        cells: vec![(format!("d{k}"), Vec::new())],
        entry: Box::new(move |release| {
            Entry::new(
                k as i64,
                "analyst",
                Event::ServerStarted {
                    version: format!("release {release}"),
                },
            )
        }),
    }
}

#[test]
fn a_group_is_stored_in_order_each_release_with_its_own_entry_and_checkpoint() {
    let (_dir, mut store) = store();
    let PendingRelease { record, entry, .. } = pending(0);
    store.record_release(&record, &[], entry).unwrap();
    let first = store.log_size().unwrap();
    assert_eq!(first, 1);
    let stored = store
        .record_releases((1..=3).map(pending).collect())
        .unwrap();
    let verifier = signer().verifier();
    for (k, (id, receipt)) in stored.iter().enumerate() {
        assert_eq!(*id, k as i64 + 2);
        assert_eq!(receipt.index, first + k as u64);
        let checkpoint = open_checkpoint(&receipt.checkpoint, &verifier).unwrap();
        assert_eq!(checkpoint.size, receipt.index + 1);
        let release = store.release(*id).unwrap().expect("stored");
        assert_eq!(release.project, format!("p{}", k + 1));
    }
    assert_eq!(store.log_size().unwrap(), first + 3);
}

#[test]
fn an_empty_group_stores_nothing() {
    let (_dir, mut store) = store();
    assert!(store.record_releases(Vec::new()).unwrap().is_empty());
    assert_eq!(store.log_size().unwrap(), 0);
}
