//! The keys (hash and storage, see [`crate::sealing`]) and where they live: the sealed key store
//! ([`crate::keystore`]) in a key directory of its own that must not lie
//! inside the data directory. Key material never appears in `Debug`
//! output and is zeroed on drop.
//!
//! A key is identified without being revealed by its check value,
//! HMAC-SHA256(key, [`KEY_CHECK_LABEL`]); the store records it, so a server
//! started with another key directory refuses the store instead of
//! silently pseudonymising under a key nobody linked with.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::keystore::KeyPurpose;

/// The fixed message whose HMAC under a key is that key's check value.
pub const KEY_CHECK_LABEL: &[u8] = b"ddc key check value v1";

/// A key version: stored with every pseudonym so that keys can rotate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion(pub u32);

/// A 256-bit HMAC key. Zeroed on drop; `Debug` prints nothing of it.
pub struct PseudonymKey(Zeroizing<[u8; 32]>);

impl PseudonymKey {
    /// Wraps key bytes (e.g. a test key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PseudonymKey(Zeroizing::new(bytes))
    }

    /// Wraps key bytes already in a zeroed-on-drop buffer.
    pub(crate) fn from_zeroizing(bytes: Zeroizing<[u8; 32]>) -> Self {
        PseudonymKey(bytes)
    }

    /// Draws a fresh key from the system's secure random generator.
    pub fn generate() -> Result<Self, KeyError> {
        random_key_bytes().map(PseudonymKey)
    }

    /// The key bytes, for the HMAC only.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The key bytes as an array (the log's Ed25519 seed).
    pub(crate) fn expose_array(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256(key, [`KEY_CHECK_LABEL`]): names the key, reveals nothing of it.
    pub fn check_value(&self) -> [u8; 32] {
        crate::pseudonym::KeyedHash::new(self.expose(), b"").digest(KEY_CHECK_LABEL)
    }
}

/// 32 bytes from the system's secure random generator, zeroed on drop.
pub(crate) fn random_key_bytes() -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| KeyError::Random)?;
    Ok(bytes)
}

/// Lower-case hex digits of `bytes`.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits (either case) as 32 bytes, zeroed on drop; `None` for
/// anything else. The one decoder of keys and holder pseudonyms.
pub(crate) fn decode_hex32(text: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    for (b, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *b = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
    }
    Some(bytes)
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// Errors of the key store. Never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key directory lies inside the data directory.
    #[error("key directory {key_dir} must not lie inside the data directory {data_dir}")]
    InsideDataDir {
        /// The key directory.
        key_dir: PathBuf,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// The key file may be read by others than its owner.
    #[error(
        "key file {0} may be read by other users; make it readable by its owner only (chmod 600)"
    )]
    Exposed(PathBuf),
    /// No key store, and creating one is not allowed.
    #[error("no key store in {0}: create one with `ddc keys init`, or start with the key directory the data was written with")]
    Missing(PathBuf),
    /// The key store is not a ddc key store.
    #[error("key store {0} is corrupt")]
    Corrupt(PathBuf),
    /// The key store fails authentication: a wrong master key, or a file
    /// that was changed.
    #[error("key store {0} fails authentication: wrong master key, or the file was tampered with")]
    Unauthenticated(PathBuf),
    /// `ddc keys init` found a key store already.
    #[error("{0} exists already; a key store is never replaced")]
    KeyStoreExists(PathBuf),
    /// The master key file lies inside the data directory.
    #[error("the master key file {0} must not lie inside the data directory")]
    MasterKeyInDataDir(PathBuf),
    /// No master key was given.
    #[error("no master key: give --master-key-file (or DDC_MASTER_KEY_FILE), or DDC_MASTER_KEY for development")]
    NoMasterKey,
    /// The master key is not 64 hex digits.
    #[error("the master key must be 64 hex digits")]
    MasterKeyFormat,
    /// Reading or writing the key directory failed.
    #[error("key directory {path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The opened key store with the source of its master key: what the
/// server changes when it rotates a key. Each change is sealed before the
/// method returns.
#[derive(Debug)]
pub struct KeyCustody {
    master: crate::keystore::MasterKeySource,
    keys: crate::keystore::KeyStore,
}

impl KeyCustody {
    /// Custody of `keys`, resealed under the key from `master`.
    pub fn new(keys: crate::keystore::KeyStore, master: crate::keystore::MasterKeySource) -> Self {
        KeyCustody { master, keys }
    }

    /// The key store.
    pub fn keys(&self) -> &crate::keystore::KeyStore {
        &self.keys
    }

    /// See [`crate::keystore::KeyStore::ensure_key`].
    pub fn ensure_key(&mut self, purpose: KeyPurpose, now_ms: u64) -> Result<bool, KeyError> {
        let keys = &mut self.keys;
        self.master.with(|m| keys.ensure_key(purpose, m, now_ms))
    }

    /// See [`crate::keystore::KeyStore::add_pending`].
    pub fn add_pending(
        &mut self,
        purpose: KeyPurpose,
        now_ms: u64,
    ) -> Result<KeyVersion, KeyError> {
        let keys = &mut self.keys;
        self.master.with(|m| keys.add_pending(purpose, m, now_ms))
    }

    /// See [`crate::keystore::KeyStore::activate`].
    pub fn activate(
        &mut self,
        purpose: KeyPurpose,
        version: KeyVersion,
        now_ms: u64,
    ) -> Result<(), KeyError> {
        let keys = &mut self.keys;
        self.master
            .with(|m| keys.activate(purpose, version, m, now_ms))
    }
}

/// Whether [`open_key_store`] may make a key store when it finds none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKey {
    /// Make one: the data store is new and the caller allows it.
    IfMissing,
    /// Never (`ddc serve`: keys come from `ddc keys init`; a data store that
    /// holds persons was written under some key).
    Never,
}

/// Whether [`open_key_store`] found a key store or made one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// An existing key store was opened.
    Loaded,
    /// A new key store was made.
    Created,
}

/// Opens the key store in `key_dir` under `master`, creating one (with a
/// fresh hash key) if `create` allows. Refuses a key directory inside
/// `data_dir`.
pub fn open_key_store(
    key_dir: &Path,
    data_dir: &Path,
    master: &crate::keystore::MasterKey,
    create: CreateKey,
    now_ms: u64,
) -> Result<(crate::keystore::KeyStore, KeyOrigin), KeyError> {
    use crate::keystore::KeyStore;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    crate::private_fs::create_private_dir(key_dir).map_err(io(key_dir))?;
    let key_abs = fs::canonicalize(key_dir).map_err(io(key_dir))?;
    if let Ok(data_abs) = fs::canonicalize(data_dir) {
        if key_abs.starts_with(&data_abs) {
            return Err(KeyError::InsideDataDir {
                key_dir: key_abs,
                data_dir: data_abs,
            });
        }
    }
    match KeyStore::open(&key_abs, master) {
        Err(KeyError::Missing(_)) if create == CreateKey::IfMissing => Ok((
            KeyStore::init(&key_abs, master, now_ms)?,
            KeyOrigin::Created,
        )),
        Err(e) => Err(e),
        Ok(store) => Ok((store, KeyOrigin::Loaded)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::{MasterKey, KEY_STORE_FILE};

    #[test]
    fn a_key_store_is_created_once_and_then_opened() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, data) = (dir.path().join("keys"), dir.path().join("data"));
        let master = MasterKey::generate().unwrap();
        let (a, o1) = open_key_store(&keys, &data, &master, CreateKey::IfMissing, 1).unwrap();
        let (b, o2) = open_key_store(&keys, &data, &master, CreateKey::Never, 2).unwrap();
        assert_eq!((o1, o2), (KeyOrigin::Created, KeyOrigin::Loaded));
        assert_eq!(a.status(), b.status());
    }

    #[test]
    fn a_missing_key_store_is_not_created_when_creation_is_not_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let master = MasterKey::generate().unwrap();
        let err = open_key_store(&keys, &dir.path().join("d"), &master, CreateKey::Never, 1);
        assert!(matches!(err, Err(KeyError::Missing(_))));
        assert!(!keys.join(KEY_STORE_FILE).exists());
    }

    #[test]
    fn check_values_differ_between_keys_and_are_not_the_key() {
        let (a, b) = (
            PseudonymKey::from_bytes([1; 32]),
            PseudonymKey::from_bytes([2; 32]),
        );
        assert_ne!(a.check_value(), b.check_value());
        assert_ne!(&a.check_value()[..], a.expose());
    }

    #[test]
    fn key_dir_inside_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let err = open_key_store(
            &dir.path().join("k"),
            dir.path(),
            &master,
            CreateKey::IfMissing,
            1,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::InsideDataDir { .. }));
    }

    #[test]
    fn debug_prints_no_key_material() {
        let key = PseudonymKey::from_bytes([0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
    }
}
