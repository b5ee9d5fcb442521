//! Person identifiers and their keyed-hash pseudonyms.
//!
//! An [`Identifier`] can only be built by validating a BSN or onderwijsnummer;
//! a [`Pseudonymiser`] turns it into a [`Pseudonym`] with HMAC-SHA256 under the
//! service key. Neither type prints its value. This module does no I/O.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::keys::{KeyVersion, PseudonymKey};

/// Domain-separation prefix for person pseudonyms. Other domains use
/// another prefix, so their pseudonyms never coincide.
pub const PERSON_DOMAIN: &[u8] = b"ddc/v1/person\0";
/// Domain-separation prefix for household pseudonyms.
pub const HOUSEHOLD_DOMAIN: &[u8] = b"ddc/v1/household\0";
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

/// A keyed-hash pseudonym: an opaque 32-byte value under one key version.
///
/// It never leaves the server; `Debug` does not print it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    /// Wraps stored pseudonym bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Pseudonym(bytes)
    }

    /// The pseudonym's bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonym(<redacted>)")
    }
}

/// HMAC-SHA256 under one key and domain, with the key state and the
/// domain prefix absorbed once: each message then costs a clone and, for
/// short messages, two SHA-256 compressions.
#[derive(Clone)]
pub struct KeyedHash {
    prepared: Hmac<Sha256>,
}

impl KeyedHash {
    /// Prepares HMAC-SHA256(key, domain ‖ ·).
    pub fn new(key: &[u8], domain: &[u8]) -> Self {
        let mut prepared =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        prepared.update(domain);
        KeyedHash { prepared }
    }

    /// HMAC-SHA256(key, domain ‖ message).
    pub fn digest(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.prepared.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHash(<redacted>)")
    }
}

/// Computes person and household pseudonyms under one key version.
#[derive(Clone)]
pub struct Pseudonymiser {
    person: KeyedHash,
    household: KeyedHash,
    version: KeyVersion,
    check: [u8; 32],
}

impl Pseudonymiser {
    /// Prepares the keyed hashes for `key` in the person and household domains.
    pub fn new(key: &PseudonymKey, version: KeyVersion) -> Self {
        Pseudonymiser {
            person: KeyedHash::new(key.expose(), PERSON_DOMAIN),
            household: KeyedHash::new(key.expose(), HOUSEHOLD_DOMAIN),
            version,
            check: key.check_value(),
        }
    }

    /// The key's check value (see [`PseudonymKey::check_value`]).
    pub fn check_value(&self) -> &[u8; 32] {
        &self.check
    }

    /// HMAC-SHA256(key, HOUSEHOLD_DOMAIN ‖ identifier).
    pub fn pseudonymise_household(&self, id: &HouseholdId<'_>) -> Pseudonym {
        Pseudonym(self.household.digest(id.0))
    }

    /// The key version the pseudonyms are computed under.
    pub fn version(&self) -> KeyVersion {
        self.version
    }

    /// HMAC-SHA256(key, PERSON_DOMAIN ‖ nine digits).
    pub fn pseudonymise(&self, id: &Identifier) -> Pseudonym {
        Pseudonym(self.person.digest(&id.digits))
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

    #[test]
    fn eight_digit_numbers_are_left_padded() {
        // 0 then 12345672: 8*1+7*2+6*3+5*4+4*5+3*6+2*7 - 2 = 110 ≡ 0.
        assert_eq!(
            Identifier::parse(b"12345672").unwrap().kind(),
            IdentifierKind::Bsn
        );
    }

    #[test]
    fn debug_output_is_redacted() {
        let id = Identifier::parse(b"249566758").unwrap();
        assert!(!format!("{id:?}").contains("249566758"));
    }
}
