//! The digest an upload's content is logged by: HMAC-SHA256 under the
//! audit key of the content's SHA-256.
//!
//! A plain SHA-256 of a one-row correction could be found by trying the
//! 10^8 valid BSNs; without the audit key nobody can test a guess. The
//! SHA-256 is the one the upload already computes for its completeness
//! check, so logging costs one HMAC block, not a second pass over the file.

use hmac::{KeyInit, Mac};

use crate::keys::PseudonymKey;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The audit key's HMAC state, computed once.
pub struct ContentDigester {
    mac: HmacSha256,
}

impl std::fmt::Debug for ContentDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentDigester(..)")
    }
}

impl ContentDigester {
    /// The digester of `key` (the key store's audit key).
    pub fn new(key: &PseudonymKey) -> Self {
        let mac = <HmacSha256 as KeyInit>::new_from_slice(key.expose())
            .expect("HMAC takes a key of any length");
        ContentDigester { mac }
    }

    /// The logged digest (hex) of content whose SHA-256 is `sha256`.
    pub fn digest(&self, sha256: &[u8; 32]) -> String {
        let mut mac = self.mac.clone();
        mac.update(sha256);
        crate::keys::encode_hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_keyed_and_is_not_the_plain_hash() {
        let a = ContentDigester::new(&PseudonymKey::from_bytes([1; 32]));
        let b = ContentDigester::new(&PseudonymKey::from_bytes([2; 32]));
        let sha = [7u8; 32];
        assert_eq!(a.digest(&sha), a.digest(&sha));
        assert_ne!(a.digest(&sha), b.digest(&sha));
        assert_ne!(a.digest(&sha), crate::keys::encode_hex(&sha));
        assert_eq!(a.digest(&sha).len(), 64);
    }

    #[test]
    fn the_digest_is_hmac_sha256_of_the_content_hash() {
        // Checked against ring's HMAC, an independent implementation.
        let key = [9u8; 32];
        let sha = [3u8; 32];
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let expected = ring::hmac::sign(&ring_key, &sha);
        let ours = ContentDigester::new(&PseudonymKey::from_bytes(key)).digest(&sha);
        assert_eq!(ours, crate::keys::encode_hex(expected.as_ref()));
    }
}
