//! The eleven-test rules for BSN and onderwijsnummer, in the library and
//! through the server's upload path.

mod common;

use common::{eleven_sum, TestServer};
use ddc::pseudonym::{Identifier, IdentifierError, IdentifierKind};
use proptest::prelude::*;

const VALID_BSNS: [&str; 5] = [
    "249566758",
    "111222333",
    "123456782",
    "999990019",
    "12345672",
];
const VALID_ONDERWIJSNUMMERS: [&str; 2] = ["101222331", "100000004"];
/// Each fails for a different reason.
const INVALID: [(&str, IdentifierError); 7] = [
    ("249566757", IdentifierError::Checksum),
    ("100252334", IdentifierError::Checksum),
    ("000000000", IdentifierError::AllZeros),
    ("1234567", IdentifierError::WrongLength),
    ("1234567890", IdentifierError::WrongLength),
    ("24956675a", IdentifierError::NotDigits),
    ("", IdentifierError::Missing),
];

fn kind(s: &str) -> Result<IdentifierKind, IdentifierError> {
    Identifier::parse(s.as_bytes()).map(|i| i.kind())
}

#[test]
fn known_valid_numbers_are_accepted_as_their_kind() {
    for b in VALID_BSNS {
        assert_eq!(kind(b), Ok(IdentifierKind::Bsn), "{b}");
    }
    for o in VALID_ONDERWIJSNUMMERS {
        assert_eq!(kind(o), Ok(IdentifierKind::Onderwijsnummer), "{o}");
    }
}

#[test]
fn a_number_passing_the_bsn_test_is_not_an_onderwijsnummer() {
    // Starts with 10 but its sum is ≡ 0, not 5 (mod 11).
    assert_eq!(kind("100252333"), Ok(IdentifierKind::Bsn));
}

#[test]
fn an_onderwijsnummer_sum_without_the_10_prefix_is_rejected() {
    let candidate = (200_000_000u64..)
        .map(|n| n.to_string())
        .find(|s| eleven_sum(s).rem_euclid(11) == 5)
        .unwrap();
    assert_eq!(kind(&candidate), Err(IdentifierError::Checksum));
}

#[test]
fn known_invalid_numbers_are_rejected_with_their_reason() {
    for (s, why) in INVALID {
        assert_eq!(kind(s), Err(why), "{s:?}");
    }
}

#[test]
fn surrounding_spaces_are_ignored() {
    assert_eq!(kind(" 249566758 "), Ok(IdentifierKind::Bsn));
}

proptest! {
    /// The library agrees with an independent statement of both rules, and
    /// the two rules never both accept a number.
    #[test]
    fn rules_match_the_definition_and_are_exclusive(n in 1u64..1_000_000_000) {
        let s = format!("{n:09}");
        let sum = eleven_sum(&s).rem_euclid(11);
        let bsn = sum == 0;
        let onderwijsnummer = sum == 5 && s.starts_with("10");
        prop_assert!(!(bsn && onderwijsnummer));
        let expected = if bsn {
            Ok(IdentifierKind::Bsn)
        } else if onderwijsnummer {
            Ok(IdentifierKind::Onderwijsnummer)
        } else {
            Err(IdentifierError::Checksum)
        };
        prop_assert_eq!(kind(&s), expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rejects_exactly_the_invalid_identifiers() {
    let mut s = TestServer::start().await;
    s.create("duo.ids", "pgn", &["x:cat:a"]).await;
    let mut csv = String::from("pgn,x\n");
    let mut expected_rejected = Vec::new();
    let mut row = 0;
    for id in VALID_BSNS.iter().chain(&VALID_ONDERWIJSNUMMERS) {
        row += 1;
        csv.push_str(&format!("{id},a\n"));
    }
    for (id, _) in INVALID {
        row += 1;
        expected_rejected.push(row);
        csv.push_str(&format!("{id},a\n"));
    }
    let receipt = s.upload_with("duo.ids", &csv, true, false).await.unwrap();
    let rejected: Vec<u64> = receipt.problems.iter().map(|p| p.row).collect();
    assert_eq!(rejected, expected_rejected);
    assert!(receipt.problems.iter().all(|p| p.column == "pgn"));
    assert_eq!(
        receipt.rows_stored,
        (VALID_BSNS.len() + VALID_ONDERWIJSNUMMERS.len()) as u64
    );
    s.stop().await;
}
