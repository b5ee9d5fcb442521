use super::*;
use crate::audit::event::{encode, Entry, Event};
use crate::audit::note::Signer;

fn signer() -> Signer {
    Signer::from_seed("ddc.test/log", &[7; 32]).unwrap()
}

fn entries(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let event = Event::ServerStarted {
                version: format!("0.{i}"),
            };
            encode(&Entry::new(i as i64, "server", event)).unwrap()
        })
        .collect()
}

/// The signed checkpoint of the first `size` of `log`, as the server signs it.
fn checkpoint(signer: &Signer, log: &[Vec<u8>], size: usize) -> String {
    let mut frontier = Frontier::new();
    for e in &log[..size] {
        frontier.push(merkle::leaf_hash(e));
    }
    let body = Checkpoint {
        origin: signer.name().to_owned(),
        size: size as u64,
        root: frontier.root(),
    }
    .body();
    signer.sign(&body).unwrap()
}

fn run(log: &[Vec<u8>], checkpoints: &[(&str, &str)]) -> Result<Verified, VerifyFailure> {
    let mut v = LogVerifier::new(signer().verifier());
    for (label, note) in checkpoints {
        v.expect(label, note)?;
    }
    for (i, e) in log.iter().enumerate() {
        v.push(i as u64, e)?;
    }
    v.finish()
}

#[test]
fn an_untouched_log_verifies_against_every_checkpoint_of_it() {
    let (s, log) = (signer(), entries(9));
    let early = checkpoint(&s, &log, 3);
    let latest = checkpoint(&s, &log, 9);
    let v = run(&log, &[("early", &early), ("latest", &latest)]).unwrap();
    assert_eq!(v.entries, 9);
    assert_eq!(
        v.checkpoints,
        [("early".to_owned(), 3), ("latest".to_owned(), 9)]
    );
}

#[test]
fn changing_deleting_reordering_or_inserting_one_entry_is_caught() {
    let (s, log) = (signer(), entries(8));
    let latest = checkpoint(&s, &log, 8);
    let check = |log: &[Vec<u8>]| run(log, &[("latest", &latest)]);
    assert!(check(&log).is_ok());
    for i in 0..log.len() {
        let mut changed = log.clone();
        changed[i] = encode(&Entry::new(
            99,
            "server",
            Event::ServerStopped {
                version: "x".into(),
            },
        ))
        .unwrap();
        assert!(
            matches!(check(&changed), Err(VerifyFailure::RootMismatch { .. })),
            "change {i}"
        );

        let mut deleted = log.clone();
        deleted.remove(i);
        assert!(
            matches!(check(&deleted), Err(VerifyFailure::Truncated { .. })),
            "delete {i}"
        );

        let mut inserted = log.clone();
        inserted.insert(i, log[0].clone());
        assert!(
            matches!(check(&inserted), Err(VerifyFailure::RootMismatch { .. })),
            "insert {i}"
        );
    }
    for i in 0..log.len() - 1 {
        let mut swapped = log.clone();
        swapped.swap(i, i + 1);
        assert!(
            matches!(check(&swapped), Err(VerifyFailure::RootMismatch { .. })),
            "swap {i}"
        );
    }
    let mut mangled = log.clone();
    mangled[2].insert(1, b' ');
    assert!(matches!(
        check(&mangled),
        Err(VerifyFailure::Entry { index: 2, .. })
    ));
}

#[test]
fn a_rewritten_log_re_signed_with_the_servers_key_fails_against_a_checkpoint_saved_earlier() {
    let (s, log) = (signer(), entries(6));
    let saved = checkpoint(&s, &log, 4);
    // The attacker holds the signing key: rewrites entry 1, appends, and
    // signs a fresh checkpoint over the result.
    let mut forged = log.clone();
    forged[1] = encode(&Entry::new(
        1,
        "server",
        Event::ServerStopped {
            version: "0".into(),
        },
    ))
    .unwrap();
    let fresh = checkpoint(&s, &forged, 6);
    assert!(
        run(&forged, &[("fresh", &fresh)]).is_ok(),
        "the fresh checkpoint alone is fooled"
    );
    assert!(matches!(
        run(&forged, &[("saved", &saved), ("fresh", &fresh)]),
        Err(VerifyFailure::RootMismatch { size: 4, .. })
    ));
}

#[test]
fn forked_checkpoints_and_foreign_signatures_are_caught() {
    let (s, log) = (signer(), entries(5));
    let mut other = log.clone();
    other[4] = log[0].clone();
    let a = checkpoint(&s, &log, 5);
    let b = checkpoint(&s, &other, 5);
    assert!(matches!(
        run(&log, &[("a", &a), ("b", &b)]),
        Err(VerifyFailure::Fork { size: 5, .. })
    ));
    let stranger = Signer::from_seed("ddc.test/log", &[8; 32]).unwrap();
    let foreign = checkpoint(&stranger, &log, 5);
    assert!(matches!(
        run(&log, &[("foreign", &foreign)]),
        Err(VerifyFailure::Note { .. })
    ));
}

#[test]
fn entries_must_come_in_order_without_gaps() {
    let log = entries(3);
    let mut v = LogVerifier::new(signer().verifier());
    v.push(0, &log[0]).unwrap();
    assert!(matches!(
        v.push(2, &log[2]),
        Err(VerifyFailure::Gap {
            expected: 1,
            found: 2
        })
    ));
}
