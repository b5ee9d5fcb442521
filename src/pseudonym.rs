//! Person identifiers and their keyed-hash pseudonyms.
//!
//! An [`Identifier`] can only be built by validating a BSN or onderwijsnummer;
//! a [`Pseudonymiser`] turns it into a [`Pseudonym`]: HMAC-SHA256 under the
//! hash key, truncated to 128 bits. A pseudonym is what links records in
//! memory; it is never stored as it is (the store keeps it sealed under the
//! storage key, see [`crate::sealing`]). None of these types prints its
//! value, and the prepared key states are not `Clone` and are zeroed on
//! drop (ours explicitly, hmac's and sha2's through their `zeroize`
//! feature). This module does no I/O.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::keys::{KeyVersion, PseudonymKey};

/// Domain-separation prefix for person pseudonyms. Other domains use
/// another prefix, so their pseudonyms never coincide.
pub const PERSON_DOMAIN: &[u8] = b"ddc/v1/person\0";
/// Domain-separation prefix for household pseudonyms.
pub const HOUSEHOLD_DOMAIN: &[u8] = b"ddc/v1/household\0";
/// Domain-separation prefix for persons whose data holder sent a
/// holder pseudonym instead of the identifier (see [`HolderPseudonym`]).
pub const HOLDER_DOMAIN: &[u8] = b"ddc/v1/holder-pseudonym\0";
/// Bytes of a pseudonym: HMAC-SHA256 truncated to 128 bits, which keeps
/// collisions negligible (about 5·10^-25 for 18 million persons) and is one
/// AES block.
pub const PSEUDONYM_BYTES: usize = 16;
/// Longest household identifier, in bytes.
pub const MAX_HOUSEHOLD_ID: usize = 64;

/// Which kind of personal number an identifier is; it follows from the checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifierKind {
    /// Burgerservicenummer: weighted sum ≡ 0 (mod 11).
    Bsn,
    /// DUO onderwijsnummer: weighted sum ≡ 5 (mod 11), starts with `10`.
    Onderwijsnummer,
}

/// Why a value is not a valid identifier. Never carries the value itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The field is empty.
    #[error("identifier is missing")]
    Missing,
    /// Something other than decimal digits.
    #[error("identifier must consist of digits only")]
    NotDigits,
    /// Not 8 or 9 digits.
    #[error("identifier must have 8 or 9 digits")]
    WrongLength,
    /// All digits zero.
    #[error("identifier cannot be all zeros")]
    AllZeros,
    /// Fails both the BSN and the onderwijsnummer eleven-test.
    #[error("identifier fails the eleven-test for both BSN and onderwijsnummer")]
    Checksum,
}

/// A validated BSN or onderwijsnummer, normalised to nine digits.
///
/// Its `Debug` output is redacted and its digits are zeroed on drop.
pub struct Identifier {
    digits: [u8; 9],
    kind: IdentifierKind,
}

impl Identifier {
    /// Parses and validates an identifier. Surrounding ASCII spaces are
    /// ignored; an 8-digit number is left-padded with a zero.
    pub fn parse(raw: &[u8]) -> Result<Self, IdentifierError> {
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            return Err(IdentifierError::Missing);
        }
        if !raw.iter().all(u8::is_ascii_digit) {
            return Err(IdentifierError::NotDigits);
        }
        let mut digits = [b'0'; 9];
        match raw.len() {
            9 => digits.copy_from_slice(raw),
            8 => digits[1..].copy_from_slice(raw),
            _ => return Err(IdentifierError::WrongLength),
        }
        let result = Self::classify(&digits).map(|kind| Identifier { digits, kind });
        digits.zeroize();
        result
    }

    fn classify(digits: &[u8; 9]) -> Result<IdentifierKind, IdentifierError> {
        if digits.iter().all(|&d| d == b'0') {
            return Err(IdentifierError::AllZeros);
        }
        match eleven_test_sum(digits).rem_euclid(11) {
            0 => Ok(IdentifierKind::Bsn),
            5 if digits.starts_with(b"10") => Ok(IdentifierKind::Onderwijsnummer),
            _ => Err(IdentifierError::Checksum),
        }
    }

    /// The kind of number this is.
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }
}

/// The weighted sum 9·d1 + 8·d2 + … + 2·d8 − 1·d9 of nine ASCII digits.
fn eleven_test_sum(digits: &[u8; 9]) -> i32 {
    let weighted: i32 = digits[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(&d, w)| w * i32::from(d - b'0'))
        .sum();
    weighted - i32::from(digits[8] - b'0')
}

impl Drop for Identifier {
    fn drop(&mut self) {
        self.digits.zeroize();
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identifier({:?}, <redacted>)", self.kind)
    }
}

/// A validated household identifier: 1 to 64 ASCII letters, digits, `-`
/// or `_`. Its `Debug` output is redacted.
pub struct HouseholdId<'a>(&'a [u8]);

/// Why a value is not a valid household identifier (never the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("household identifier must be 1 to 64 letters, digits, '-' or '_'")]
pub struct HouseholdIdError;

impl<'a> HouseholdId<'a> {
    /// Validates a (trimmed) household identifier.
    pub fn parse(raw: &'a [u8]) -> Result<Self, HouseholdIdError> {
        let raw = raw.trim_ascii();
        let valid = !raw.is_empty()
            && raw.len() <= MAX_HOUSEHOLD_ID
            && raw
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if valid {
            Ok(HouseholdId(raw))
        } else {
            Err(HouseholdIdError)
        }
    }
}

impl fmt::Debug for HouseholdId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HouseholdId(<redacted>)")
    }
}

/// A data holder's own pseudonym of an identifier: HMAC-SHA256 under the
/// holders' key, which the holders share and ddc never holds, computed by
/// the holder's `ddc` client after the eleven-test (see
/// [`holder_pseudonym`]). ddc treats it as the identifier and hashes it
/// again under its own key. Its `Debug` output is redacted.
pub struct HolderPseudonym([u8; 32]);

/// Why a value is not a holder pseudonym (never the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a holder pseudonym must be 64 hex digits")]
pub struct HolderPseudonymError;

impl HolderPseudonym {
    /// Parses 64 hex digits (surrounding ASCII spaces ignored).
    pub fn parse(raw: &[u8]) -> Result<Self, HolderPseudonymError> {
        crate::keys::decode_hex32(raw.trim_ascii())
            .map(|bytes| HolderPseudonym(*bytes))
            .ok_or(HolderPseudonymError)
    }
}

impl fmt::Debug for HolderPseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HolderPseudonym(<redacted>)")
    }
}

/// What a data holder's client sends instead of `id` in a dataset whose
/// identifiers are holder pseudonyms: HMAC-SHA256(holders' key,
/// [`HOLDER_DOMAIN`] ‖ nine digits), as 64 lower-case hex digits.
pub fn holder_pseudonym(holders_key: &KeyedHash, id: &Identifier) -> String {
    crate::keys::encode_hex(&holders_key.digest(&id.digits))
}

/// A keyed-hash pseudonym: HMAC-SHA256 under the hash key, truncated to
/// [`PSEUDONYM_BYTES`]. Links records in memory; never stored unsealed and
/// never leaves the server. `Debug` does not print it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pseudonym([u8; PSEUDONYM_BYTES]);

impl Pseudonym {
    /// `n` pseudonyms of random-looking bytes from `seed` (a xorshift
    /// generator), for tests that need many.
    #[cfg(test)]
    pub(crate) fn scattered(n: usize, seed: u64) -> Vec<Pseudonym> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        };
        (0..n)
            .map(|_| {
                let mut b = [0u8; PSEUDONYM_BYTES];
                b[..8].copy_from_slice(&next());
                b[8..].copy_from_slice(&next());
                Pseudonym(b)
            })
            .collect()
    }

    /// Wraps pseudonym bytes (unsealed by [`crate::sealing`]).
    pub fn from_bytes(bytes: [u8; PSEUDONYM_BYTES]) -> Self {
        Pseudonym(bytes)
    }

    /// The pseudonym's bytes, for sealing.
    pub fn as_bytes(&self) -> &[u8; PSEUDONYM_BYTES] {
        &self.0
    }

    fn truncate(digest: [u8; 32]) -> Self {
        let mut bytes = [0u8; PSEUDONYM_BYTES];
        bytes.copy_from_slice(&digest[..PSEUDONYM_BYTES]);
        Pseudonym(bytes)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonym(<redacted>)")
    }
}

/// HMAC-SHA256 under one key and domain, with the key absorbed once: the
/// SHA-256 states after the key's inner and outer pad blocks are kept, so
/// a message that fits one block with the domain (at most 55 bytes of
/// domain and message, as a person's nine digits do) costs exactly two
/// SHA-256 compressions, the floor of HMAC. Longer messages go through the
/// `hmac` crate. As good as the key: not `Clone`, its key states are zeroed
/// on drop, and so is each message's inner state.
pub struct KeyedHash {
    /// SHA-256 state after `key ⊕ ipad`.
    inner: [u32; 8],
    /// SHA-256 state after `key ⊕ opad`.
    outer: [u32; 8],
    /// The domain prefix (public).
    domain: Vec<u8>,
    /// HMAC with the key and domain absorbed, for longer messages.
    prepared: Hmac<Sha256>,
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// Bytes of a SHA-256 block.
const BLOCK: usize = 64;

impl KeyedHash {
    /// Prepares HMAC-SHA256(key, domain ‖ ·).
    pub fn new(key: &[u8], domain: &[u8]) -> Self {
        let mut prepared = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .expect("HMAC accepts keys of any length");
        prepared.update(domain);
        // RFC 2104: a key longer than a block is hashed first.
        let mut padded = [0u8; BLOCK];
        if key.len() > BLOCK {
            use sha2::Digest;
            padded[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            padded[..key.len()].copy_from_slice(key);
        }
        let state_after = |pad: u8| {
            let mut block = padded.map(|b| b ^ pad);
            let mut state = SHA256_IV;
            sha2::block_api::compress256(&mut state, std::slice::from_ref(&block));
            block.zeroize();
            state
        };
        let (inner, outer) = (state_after(0x36), state_after(0x5c));
        padded.zeroize();
        KeyedHash {
            inner,
            outer,
            domain: domain.to_vec(),
            prepared,
        }
    }

    /// HMAC-SHA256(key, domain ‖ message).
    pub fn digest(&self, message: &[u8]) -> [u8; 32] {
        let d = self.domain.len();
        let n = d + message.len();
        if n > BLOCK - 9 {
            let mut mac = self.prepared.clone();
            mac.update(message);
            return mac.finalize().into_bytes().into();
        }
        // Inner hash: the one block after the pad, with SHA-256's padding
        // (0x80, zeros, the bit length of pad block and message).
        let mut block = [0u8; BLOCK];
        block[..d].copy_from_slice(&self.domain);
        block[d..n].copy_from_slice(message);
        block[n] = 0x80;
        block[BLOCK - 8..].copy_from_slice(&(((BLOCK + n) * 8) as u64).to_be_bytes());
        let mut state = self.inner;
        sha2::block_api::compress256(&mut state, std::slice::from_ref(&block));
        // Outer hash: the inner digest, padded, after the outer pad.
        let mut outer_block = [0u8; BLOCK];
        for (out, word) in outer_block.chunks_exact_mut(4).zip(&state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        outer_block[32] = 0x80;
        outer_block[BLOCK - 8..].copy_from_slice(&(((BLOCK + 32) * 8) as u64).to_be_bytes());
        let mut tag = self.outer;
        sha2::block_api::compress256(&mut tag, std::slice::from_ref(&outer_block));
        let mut digest = [0u8; 32];
        for (out, word) in digest.chunks_exact_mut(4).zip(&tag) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        // The inner state is zeroed; the two blocks hold the domain and
        // the message (which the caller holds too) and the inner digest
        // (derived from the state, worth no more than the digest returned),
        // and zeroing them byte by byte would cost a fifth of the hash.
        state.zeroize();
        digest
    }
}

impl Drop for KeyedHash {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHash(<redacted>)")
    }
}

/// Computes person and household pseudonyms under one key version. Not
/// `Clone`: share one behind an `Arc`.
pub struct Pseudonymiser {
    person: KeyedHash,
    household: KeyedHash,
    holder: KeyedHash,
    version: KeyVersion,
    check: [u8; 32],
}

impl Pseudonymiser {
    /// Prepares the keyed hashes for `key` in the person and household domains.
    pub fn new(key: &PseudonymKey, version: KeyVersion) -> Self {
        Pseudonymiser {
            person: KeyedHash::new(key.expose(), PERSON_DOMAIN),
            household: KeyedHash::new(key.expose(), HOUSEHOLD_DOMAIN),
            holder: KeyedHash::new(key.expose(), HOLDER_DOMAIN),
            version,
            check: key.check_value(),
        }
    }

    /// The key's check value (see [`PseudonymKey::check_value`]).
    pub fn check_value(&self) -> &[u8; 32] {
        &self.check
    }

    /// HMAC-SHA256(key, HOUSEHOLD_DOMAIN ‖ identifier), truncated.
    pub fn pseudonymise_household(&self, id: &HouseholdId<'_>) -> Pseudonym {
        Pseudonym::truncate(self.household.digest(id.0))
    }

    /// HMAC-SHA256(key, HOLDER_DOMAIN ‖ holder pseudonym), truncated: a
    /// person of a dataset whose holder pseudonymised it first. Never equal
    /// to a [`Self::pseudonymise`] value, so the two modes do not link.
    pub fn pseudonymise_holder(&self, id: &HolderPseudonym) -> Pseudonym {
        Pseudonym::truncate(self.holder.digest(&id.0))
    }

    /// The key version the pseudonyms are computed under.
    pub fn version(&self) -> KeyVersion {
        self.version
    }

    /// HMAC-SHA256(key, PERSON_DOMAIN ‖ nine digits), truncated.
    pub fn pseudonymise(&self, id: &Identifier) -> Pseudonym {
        Pseudonym::truncate(self.person.digest(&id.digits))
    }
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HMAC-SHA256 as the `hmac` crate computes it.
    fn reference(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn the_two_compression_hmac_is_hmac_sha256_for_every_key_and_message_length() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for key_len in [0, 1, 32, 63, 64, 65, 150] {
            let key = &bytes[..key_len];
            for domain in [&b""[..], PERSON_DOMAIN, HOUSEHOLD_DOMAIN, HOLDER_DOMAIN] {
                let h = KeyedHash::new(key, domain);
                // Both sides of the one-block limit (55 bytes), and longer.
                for len in 0..=90 {
                    let message = &bytes[100..100 + len];
                    let whole = [domain, message].concat();
                    assert_eq!(
                        h.digest(message),
                        reference(key, &whole),
                        "key {key_len}, domain {}, message {len}",
                        domain.len()
                    );
                }
            }
        }
    }

    #[test]
    fn eight_digit_numbers_are_left_padded() {
        // 0 then 12345672: 8*1+7*2+6*3+5*4+4*5+3*6+2*7 - 2 = 110 ≡ 0.
        assert_eq!(
            Identifier::parse(b"12345672").unwrap().kind(),
            IdentifierKind::Bsn
        );
    }

    #[test]
    fn holder_pseudonyms_are_hex_and_link_apart_from_identifiers() {
        let id = Identifier::parse(b"249566758").unwrap();
        let holders = KeyedHash::new(&[3; 32], HOLDER_DOMAIN);
        let sent = holder_pseudonym(&holders, &id);
        assert_eq!(sent.len(), 64);
        assert!(!sent.contains("249566758"));
        let parsed = HolderPseudonym::parse(sent.as_bytes()).unwrap();
        assert_eq!(parsed.0, holders.digest(b"249566758"));
        let ddc = Pseudonymiser::new(&PseudonymKey::from_bytes([9; 32]), KeyVersion(1));
        assert_ne!(ddc.pseudonymise_holder(&parsed), ddc.pseudonymise(&id));
        for bad in [&b"12"[..], &[b'g'; 64][..]] {
            assert_eq!(
                HolderPseudonym::parse(bad).unwrap_err(),
                HolderPseudonymError
            );
        }
    }

    #[test]
    fn debug_output_is_redacted() {
        let id = Identifier::parse(b"249566758").unwrap();
        assert!(!format!("{id:?}").contains("249566758"));
    }
}
