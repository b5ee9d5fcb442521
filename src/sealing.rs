//! Sealing pseudonyms for storage: the stored pseudonym is AES-256 under
//! the storage key of the 128-bit [`Pseudonym`], one block per person.
//!
//! AES is a keyed permutation, so sealing keeps pseudonyms distinct and
//! rotating the storage key needs no identifiers: unseal with the old key,
//! seal with the new one. Once the old storage key is destroyed, a copy of
//! the old key store no longer computes any stored value, and neither key
//! alone (hash or storage) turns an identifier into what is on disk. The
//! key schedule is not `Clone` and is zeroed on drop (aes with `zeroize`).

use std::fmt;

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::Aes256;

use crate::keys::{KeyVersion, PseudonymKey};
use crate::pseudonym::{Pseudonym, PSEUDONYM_BYTES};

/// A pseudonym as stored: sealed under one storage key version.
pub type Sealed = [u8; PSEUDONYM_BYTES];

/// The storage key, prepared for AES-256.
pub struct StorageKey {
    cipher: Aes256,
    version: KeyVersion,
    check: [u8; 32],
}

impl StorageKey {
    /// Prepares `key` (version `version`) for sealing.
    pub fn new(key: &PseudonymKey, version: KeyVersion) -> Self {
        StorageKey {
            cipher: Aes256::new_from_slice(key.expose()).expect("a 32-byte key"),
            version,
            check: key.check_value(),
        }
    }

    /// The key's version, stored with every sealed pseudonym.
    pub fn version(&self) -> KeyVersion {
        self.version
    }

    /// The key's check value (see [`PseudonymKey::check_value`]).
    pub fn check_value(&self) -> &[u8; 32] {
        &self.check
    }

    /// Seals one pseudonym.
    pub fn seal(&self, pseudonym: &Pseudonym) -> Sealed {
        let mut block = Array::from(*pseudonym.as_bytes());
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// Unseals one stored pseudonym.
    pub fn unseal(&self, sealed: &Sealed) -> Pseudonym {
        let mut block = Array::from(*sealed);
        self.cipher.decrypt_block(&mut block);
        Pseudonym::from_bytes(block.into())
    }

    /// Seals pseudonyms in place, many blocks at a time.
    pub fn seal_in_place(&self, blocks: &mut [Sealed]) {
        self.cipher
            .encrypt_blocks(Array::cast_slice_from_core_mut(blocks));
    }

    /// Unseals stored pseudonyms in place, many blocks at a time.
    pub fn unseal_in_place(&self, blocks: &mut [Sealed]) {
        self.cipher
            .decrypt_blocks(Array::cast_slice_from_core_mut(blocks));
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Re-seals stored pseudonyms from one storage key to the next, in place:
/// the whole of a rotation's work per person.
pub fn reseal(from: &StorageKey, to: &StorageKey, blocks: &mut [Sealed]) {
    from.unseal_in_place(blocks);
    to.seal_in_place(blocks);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8, version: u32) -> StorageKey {
        StorageKey::new(&PseudonymKey::from_bytes([byte; 32]), KeyVersion(version))
    }

    #[test]
    fn sealing_round_trips_one_at_a_time_and_in_bulk() {
        let k = key(1, 1);
        let p = Pseudonym::from_bytes([7; 16]);
        let sealed = k.seal(&p);
        assert_ne!(&sealed, p.as_bytes());
        assert_eq!(k.unseal(&sealed), p);
        let mut many: Vec<Sealed> = (0..100u8).map(|i| [i; 16]).collect();
        let one_by_one: Vec<Sealed> = many
            .iter()
            .map(|b| k.seal(&Pseudonym::from_bytes(*b)))
            .collect();
        k.seal_in_place(&mut many);
        assert_eq!(many, one_by_one);
        k.unseal_in_place(&mut many);
        assert_eq!(many[42], [42; 16]);
    }

    #[test]
    fn resealing_equals_sealing_under_the_new_key_and_not_the_old() {
        let (old, new) = (key(1, 1), key(2, 2));
        let p = Pseudonym::from_bytes([9; 16]);
        let mut blocks = [old.seal(&p)];
        reseal(&old, &new, &mut blocks);
        assert_eq!(blocks[0], new.seal(&p));
        assert_ne!(blocks[0], old.seal(&p));
    }

    /// Whether `T` is `Clone`, decided at compile time by method resolution
    /// (an inherent-looking probe: `Clone` types match the first impl).
    macro_rules! is_clone {
        ($t:ty) => {{
            struct Probe<T>(std::marker::PhantomData<T>);
            #[allow(dead_code)]
            trait Yes {
                fn clone_probe(&self) -> bool {
                    true
                }
            }
            impl<T: Clone> Yes for Probe<T> {}
            #[allow(dead_code)]
            trait No {
                fn clone_probe(&self) -> bool {
                    false
                }
            }
            impl<T> No for &Probe<T> {}
            (&Probe::<$t>(std::marker::PhantomData)).clone_probe()
        }};
    }

    #[test]
    fn key_states_cannot_be_cloned() {
        use crate::keystore::MasterKey;
        use crate::pseudonym::{KeyedHash, Pseudonymiser};
        assert!(is_clone!(Pseudonym), "the probe sees Clone");
        assert!(!is_clone!(StorageKey));
        assert!(!is_clone!(KeyedHash));
        assert!(!is_clone!(Pseudonymiser));
        assert!(!is_clone!(PseudonymKey));
        assert!(!is_clone!(MasterKey));
        assert!(!is_clone!(crate::keystore::KeyStore));
    }

    #[test]
    fn aes_256_matches_fips_197() {
        // FIPS-197 appendix C.3.
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let k = StorageKey::new(&PseudonymKey::from_bytes(bytes), KeyVersion(1));
        let plain: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        let sealed = k.seal(&Pseudonym::from_bytes(plain));
        let expected = [
            0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49,
            0x60, 0x89,
        ];
        assert_eq!(sealed, expected);
        assert!(!format!("{k:?}").contains("8ea2"));
    }
}
