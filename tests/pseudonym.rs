//! Keyed hashing: RFC 4231 vectors, and stored pseudonyms checked against an
//! independent HMAC implementation (ring) under a known key.

mod common;

use common::{bsns, TestServer};
use ddc::pseudonym::{KeyedHash, PERSON_DOMAIN};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 4231 test cases 1–4, 6 and 7 (case 5 tests truncation, which ddc never does).
#[test]
fn hmac_sha256_matches_rfc_4231() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
        (vec![0x0b; 20], b"Hi There".to_vec(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (vec![0xaa; 20], vec![0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), vec![0xcd; 50], "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (vec![0xaa; 131], b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ];
    for (key, data, expected) in cases {
        assert_eq!(
            KeyedHash::new(&key, b"").digest(&data).to_vec(),
            hex(expected)
        );
    }
}

#[test]
fn the_domain_prefix_is_part_of_the_message() {
    let key = [7u8; 32];
    let split = KeyedHash::new(&key, b"abc").digest(b"def");
    let whole = KeyedHash::new(&key, b"").digest(b"abcdef");
    assert_eq!(split, whole);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_pseudonyms_equal_an_independent_hmac_under_the_known_key() {
    let key = [0x5au8; 32];
    let key_dir = common::key_dir_with(key);
    let mut s = TestServer::start_in(tempfile::tempdir().unwrap(), key_dir).await;
    s.create("cbs.p", "bsn", &["x:cat:a"]).await;
    let ids = bsns(3);
    // The second one as 8 digits: it must be normalised to nine.
    let eight = ids[1].trim_start_matches('0').to_string();
    let csv = format!("bsn,x\n{},a\n{},a\n{},a\n", ids[0], eight, ids[2]);
    s.upload("cbs.p", &csv).await.unwrap();

    // Stored: AES-256 under the storage key of HMAC-SHA256(hash key,
    // domain ‖ nine digits) truncated to 16 bytes.
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut expected: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            let message = [PERSON_DOMAIN, id.as_bytes()].concat();
            ring::hmac::sign(&ring_key, &message).as_ref()[..16].to_vec()
        })
        .collect();
    expected.sort();
    let storage = common::storage_key(s.key_dir.path());
    let (sealed, versions) = common::sealed_pseudonyms(s.data_dir.path());
    assert!(versions.iter().all(|&v| v == 1), "{versions:?}");
    let mut stored: Vec<Vec<u8>> = sealed
        .iter()
        .map(|b| storage.unseal(b).as_bytes().to_vec())
        .collect();
    stored.sort();
    assert_eq!(stored, expected);
    // Sealing hides the hash: no stored value is a truncated HMAC.
    assert!(sealed.iter().all(|b| !expected.contains(&b.to_vec())));
    s.stop().await;
}
