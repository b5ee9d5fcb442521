//! The key store: every key ddc holds (the hash key and the storage key,
//! see [`crate::sealing`]), with versions and times, sealed at rest with ChaCha20-Poly1305 under a master key the
//! operator supplies at start (a file such as a systemd credential; an
//! environment variable for development only).
//!
//! The sealed file is `MAGIC ‖ nonce ‖ AEAD(master, nonce, MAGIC, JSON)`,
//! written to a temporary file, synced and renamed, so a crash leaves the
//! old store or the new one, never half of either. A wrong master key and
//! a tampered file both fail authentication and are refused. Key bytes
//! live in zeroed-on-drop buffers, are not `Clone`, and never appear in
//! `Debug` output or errors.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::{decode_hex32, encode_hex, KeyError, KeyVersion, PseudonymKey};

/// File name of the sealed key store inside the key directory.
pub const KEY_STORE_FILE: &str = "keys.sealed";

/// Identifies the file and its format; authenticated with the contents.
const MAGIC: &[u8] = b"ddc key store v1\n";

/// The operator's master key: 32 bytes. Zeroed on drop, never printed.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Result<Self, KeyError> {
        crate::keys::random_key_bytes().map(MasterKey)
    }

    /// Parses 64 hex digits (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        decode_hex32(text.trim().as_bytes())
            .map(MasterKey)
            .ok_or(KeyError::MasterKeyFormat)
    }

    /// Reads a master key file of 64 hex digits, refusing one that others
    /// may read.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|source| KeyError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if crate::private_fs::is_exposed(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })? {
            return Err(KeyError::Exposed(path.to_path_buf()));
        }
        Self::from_hex(&text)
    }

    /// Writes the key as 64 hex digits to a new file readable by its owner
    /// only (for `ddc keys init --new-master-key` and tests).
    pub fn write_new_file(&self, path: &Path) -> Result<(), KeyError> {
        let hex = Zeroizing::new(encode_hex(self.0.as_ref()));
        write_private(path, format!("{}\n", hex.as_str()).as_bytes(), false)
    }

    fn aead(&self) -> LessSafeKey {
        // CHACHA20_POLY1305 takes any 32-byte key.
        let key = UnboundKey::new(&CHACHA20_POLY1305, self.0.as_ref()).expect("32-byte key");
        LessSafeKey::new(key)
    }
}

/// Where the server gets its master key.
#[derive(Clone, Debug)]
pub enum MasterKeySource {
    /// A file of 64 hex digits readable by its owner only: a systemd
    /// credential or a mounted secret. Never in the data directory.
    File(PathBuf),
    /// 64 hex digits in this environment variable: for development only,
    /// since `/proc` exposes a process's environment.
    Env(String),
    /// A throwaway key made once by this process (the demo, the examples):
    /// shared by every clone of the configuration, gone when it exits.
    Ephemeral(std::sync::Arc<std::sync::OnceLock<MasterKey>>),
}

impl MasterKeySource {
    /// A throwaway key, made on first use.
    pub fn ephemeral() -> Self {
        MasterKeySource::Ephemeral(Default::default())
    }

    /// Runs `f` with the master key.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&MasterKey) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        match self {
            MasterKeySource::File(path) => f(&MasterKey::from_file(path)?),
            MasterKeySource::Env(var) => {
                let text = Zeroizing::new(std::env::var(var).map_err(|_| KeyError::NoMasterKey)?);
                f(&MasterKey::from_hex(&text)?)
            }
            MasterKeySource::Ephemeral(cell) => {
                if cell.get().is_none() {
                    let _ = cell.set(MasterKey::generate()?);
                }
                f(cell.get().ok_or(KeyError::Random)?)
            }
        }
    }
}

/// What a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// The HMAC key of the pseudonyms: changing it needs the identifiers.
    Hash,
    /// The AES key that seals stored pseudonyms: rotated without them.
    Storage,
    /// The Ed25519 seed that signs the linkage log's checkpoints; its
    /// public half is what auditors verify with.
    Signing,
    /// The HMAC key of the digests the log records of upload contents.
    Audit,
}

impl KeyPurpose {
    /// The purpose's name, as in the key store and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Hash => "hash",
            KeyPurpose::Storage => "storage",
            KeyPurpose::Signing => "signing",
            KeyPurpose::Audit => "audit",
        }
    }
}

/// What the key store says of one key, without the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// What it is for.
    pub purpose: KeyPurpose,
    /// Its version.
    pub version: u32,
    /// When it was made (ms since the epoch).
    pub created_ms: u64,
    /// When it became the active key of its purpose; `None` while a
    /// rotation to it is under way.
    pub activated_ms: Option<u64>,
    /// When it was retired and its bytes destroyed, if it was.
    #[serde(default)]
    pub retired_ms: Option<u64>,
}

impl KeyInfo {
    /// Made for a rotation that has not completed.
    pub fn is_pending(&self) -> bool {
        self.activated_ms.is_none() && self.retired_ms.is_none()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    info: KeyInfo,
    /// 64 hex digits; `None` once the key is destroyed.
    key: Option<String>,
}

impl Drop for StoredKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Some(key) = &mut self.key {
            key.zeroize();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Contents {
    keys: Vec<StoredKey>,
}

/// The active version of `purpose` among `keys`: the one activated last
/// and not retired.
pub fn active_version<'a>(
    keys: impl IntoIterator<Item = &'a KeyInfo>,
    purpose: KeyPurpose,
) -> Option<KeyVersion> {
    keys.into_iter()
        .filter(|k| k.purpose == purpose && k.activated_ms.is_some() && k.retired_ms.is_none())
        .max_by_key(|k| (k.activated_ms, k.version))
        .map(|k| KeyVersion(k.version))
}

/// An opened key store. A key's bytes are `None` once it is retired.
pub struct KeyStore {
    path: PathBuf,
    keys: Vec<(KeyInfo, Option<PseudonymKey>)>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("path", &self.path)
            .field("keys", &self.status())
            .finish()
    }
}

impl KeyStore {
    /// Creates a key store in `key_dir` with a fresh hash, storage, signing
    /// and audit key, each version 1, active from `now_ms`. Refuses to replace an
    /// existing one.
    pub fn init(key_dir: &Path, master: &MasterKey, now_ms: u64) -> Result<Self, KeyError> {
        Self::init_with_key(key_dir, master, PseudonymKey::generate()?, now_ms)
    }

    /// Creates a key store whose hash key, version 1, is `key` (a test's
    /// known key, a key that exists already), with fresh other keys.
    /// Refuses to replace an existing key store.
    pub fn init_with_key(
        key_dir: &Path,
        master: &MasterKey,
        key: PseudonymKey,
        now_ms: u64,
    ) -> Result<Self, KeyError> {
        crate::private_fs::create_private_dir(key_dir).map_err(|source| KeyError::Io {
            path: key_dir.to_path_buf(),
            source,
        })?;
        let path = key_dir.join(KEY_STORE_FILE);
        if path.exists() {
            return Err(KeyError::KeyStoreExists(path));
        }
        let active = |purpose| KeyInfo {
            purpose,
            version: 1,
            created_ms: now_ms,
            activated_ms: Some(now_ms),
            retired_ms: None,
        };
        let store = KeyStore {
            path,
            keys: vec![
                (active(KeyPurpose::Hash), Some(key)),
                (active(KeyPurpose::Storage), Some(PseudonymKey::generate()?)),
                (active(KeyPurpose::Signing), Some(PseudonymKey::generate()?)),
                (active(KeyPurpose::Audit), Some(PseudonymKey::generate()?)),
            ],
        };
        store.seal(master, true)?;
        Ok(store)
    }

    /// Opens and authenticates the key store in `key_dir`.
    pub fn open(key_dir: &Path, master: &MasterKey) -> Result<Self, KeyError> {
        let path = key_dir.join(KEY_STORE_FILE);
        let sealed = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::Missing(key_dir.to_path_buf()))
            }
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        if crate::private_fs::is_exposed(&path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })? {
            return Err(KeyError::Exposed(path));
        }
        let rest = sealed
            .strip_prefix(MAGIC)
            .ok_or_else(|| KeyError::Corrupt(path.clone()))?;
        if rest.len() < NONCE_LEN {
            return Err(KeyError::Corrupt(path));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Corrupt(path.clone()))?;
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        let opened = master
            .aead()
            .open_in_place(nonce, Aad::from(MAGIC), plain.as_mut())
            .map_err(|_| KeyError::Unauthenticated(path.clone()))?;
        let contents: Contents =
            serde_json::from_slice(opened).map_err(|_| KeyError::Corrupt(path.clone()))?;
        let mut keys = Vec::with_capacity(contents.keys.len());
        for k in &contents.keys {
            let key = match &k.key {
                Some(hex) => Some(PseudonymKey::from_zeroizing(
                    decode_hex32(hex.as_bytes()).ok_or_else(|| KeyError::Corrupt(path.clone()))?,
                )),
                None => None,
            };
            if key.is_none() != k.info.retired_ms.is_some() {
                return Err(KeyError::Corrupt(path));
            }
            keys.push((k.info.clone(), key));
        }
        Ok(KeyStore { path, keys })
    }

    /// Every key's version, purpose and times; never a key.
    pub fn status(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|(info, _)| info.clone()).collect()
    }

    /// The active key of `purpose` and its version.
    pub fn active(&self, purpose: KeyPurpose) -> Option<(KeyVersion, &PseudonymKey)> {
        let version = active_version(self.keys.iter().map(|(info, _)| info), purpose)?;
        Some((version, self.key(purpose, version)?))
    }

    /// The key of `purpose` and `version`, unless it was destroyed.
    pub fn key(&self, purpose: KeyPurpose, version: KeyVersion) -> Option<&PseudonymKey> {
        self.keys
            .iter()
            .find(|(info, _)| info.purpose == purpose && info.version == version.0)
            .and_then(|(_, key)| key.as_ref())
    }

    /// The key of `purpose` made for a rotation that has not completed.
    pub fn pending(&self, purpose: KeyPurpose) -> Option<(KeyVersion, &PseudonymKey)> {
        self.keys
            .iter()
            .find(|(info, _)| info.purpose == purpose && info.is_pending())
            .and_then(|(info, key)| Some((KeyVersion(info.version), key.as_ref()?)))
    }

    /// Gives `purpose` an active key, version 1, if it has no key at all (a
    /// key store made before storage keys existed). Returns whether it did.
    pub fn ensure_key(
        &mut self,
        purpose: KeyPurpose,
        master: &MasterKey,
        now_ms: u64,
    ) -> Result<bool, KeyError> {
        if self.keys.iter().any(|(info, _)| info.purpose == purpose) {
            return Ok(false);
        }
        let info = KeyInfo {
            purpose,
            version: 1,
            created_ms: now_ms,
            activated_ms: Some(now_ms),
            retired_ms: None,
        };
        self.keys.push((info, Some(PseudonymKey::generate()?)));
        self.seal(master, false)?;
        Ok(true)
    }

    /// Gives `purpose` a pending key for a rotation, sealed before it is
    /// used, unless it has one already (a rotation that did not complete).
    pub fn add_pending(
        &mut self,
        purpose: KeyPurpose,
        master: &MasterKey,
        now_ms: u64,
    ) -> Result<KeyVersion, KeyError> {
        if let Some((version, _)) = self.pending(purpose) {
            return Ok(version);
        }
        let version = self
            .keys
            .iter()
            .filter(|(info, _)| info.purpose == purpose)
            .map(|(info, _)| info.version)
            .max()
            .unwrap_or(0)
            + 1;
        let info = KeyInfo {
            purpose,
            version,
            created_ms: now_ms,
            activated_ms: None,
            retired_ms: None,
        };
        self.keys.push((info, Some(PseudonymKey::generate()?)));
        self.seal(master, false)?;
        Ok(KeyVersion(version))
    }

    /// Makes `version` the active key of `purpose` and destroys every other
    /// key of that purpose: what ends a rotation once the store is sealed
    /// under `version`. Sealed before it returns.
    pub fn activate(
        &mut self,
        purpose: KeyPurpose,
        version: KeyVersion,
        master: &MasterKey,
        now_ms: u64,
    ) -> Result<(), KeyError> {
        if !self
            .keys
            .iter()
            .any(|(i, k)| i.purpose == purpose && i.version == version.0 && k.is_some())
        {
            return Err(KeyError::Corrupt(self.path.clone()));
        }
        for (info, key) in &mut self.keys {
            if info.purpose != purpose {
                continue;
            }
            if info.version == version.0 {
                info.activated_ms.get_or_insert(now_ms);
            } else if key.is_some() {
                info.retired_ms = Some(now_ms);
                *key = None;
            }
        }
        self.seal(master, false)
    }

    fn seal(&self, master: &MasterKey, new: bool) -> Result<(), KeyError> {
        let contents = Contents {
            keys: self
                .keys
                .iter()
                .map(|(info, key)| StoredKey {
                    info: info.clone(),
                    key: key.as_ref().map(|k| encode_hex(k.expose())),
                })
                .collect(),
        };
        let mut plain = Zeroizing::new(
            serde_json::to_vec(&contents).map_err(|_| KeyError::Corrupt(self.path.clone()))?,
        );
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Random)?;
        let tag = master
            .aead()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(MAGIC),
                plain.as_mut_slice(),
            )
            .map_err(|_| KeyError::Random)?;
        let mut sealed = Vec::with_capacity(MAGIC.len() + NONCE_LEN + plain.len() + 16);
        sealed.extend_from_slice(MAGIC);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&plain);
        sealed.extend_from_slice(tag.as_ref());
        write_private(&self.path, &sealed, !new)
    }
}

/// Writes `bytes` to `path` (mode 0600) through a synced temporary file and
/// a rename; `replace` allows an existing file to be replaced.
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !replace && path.exists() {
        return Err(KeyError::KeyStoreExists(path.to_path_buf()));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_adds_a_pending_key_then_destroys_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let mut store = KeyStore::init(dir.path(), &master, 1).unwrap();
        let old = store.active(KeyPurpose::Storage).unwrap().1.check_value();
        let v2 = store.add_pending(KeyPurpose::Storage, &master, 2).unwrap();
        assert_eq!(v2, KeyVersion(2));
        // Asked again before it completes: the same pending key.
        assert_eq!(
            store.add_pending(KeyPurpose::Storage, &master, 3).unwrap(),
            v2
        );
        let reopened = KeyStore::open(dir.path(), &master).unwrap();
        assert_eq!(reopened.pending(KeyPurpose::Storage).unwrap().0, v2);
        assert_eq!(
            reopened.active(KeyPurpose::Storage).unwrap().0,
            KeyVersion(1)
        );
        store.activate(KeyPurpose::Storage, v2, &master, 4).unwrap();
        let after = KeyStore::open(dir.path(), &master).unwrap();
        assert_eq!(after.active(KeyPurpose::Storage).unwrap().0, v2);
        assert!(after.pending(KeyPurpose::Storage).is_none());
        assert_eq!(after.active(KeyPurpose::Hash).unwrap().0, KeyVersion(1));
        let retired = &after.status()[1];
        assert_eq!((retired.version, retired.retired_ms), (1, Some(4)));
        // The old storage key is gone from the sealed file, not just unused.
        assert!(after
            .keys
            .iter()
            .flat_map(|(_, k)| k.as_ref())
            .all(|k| k.check_value() != old));
    }

    #[test]
    fn a_key_store_opens_with_its_master_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let made = KeyStore::init(dir.path(), &master, 1_000).unwrap();
        let opened = KeyStore::open(dir.path(), &master).unwrap();
        assert_eq!(opened.status(), made.status());
        let (v, key) = opened.active(KeyPurpose::Hash).unwrap();
        assert_eq!(v, KeyVersion(1));
        let made_key = made.active(KeyPurpose::Hash).unwrap().1;
        assert_eq!(key.check_value(), made_key.check_value());
        let other = MasterKey::generate().unwrap();
        assert!(matches!(
            KeyStore::open(dir.path(), &other),
            Err(KeyError::Unauthenticated(_))
        ));
        assert!(matches!(
            KeyStore::init(dir.path(), &master, 2_000),
            Err(KeyError::KeyStoreExists(_))
        ));
    }

    #[test]
    fn a_tampered_key_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        KeyStore::init(dir.path(), &master, 1_000).unwrap();
        let path = dir.path().join(KEY_STORE_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            KeyStore::open(dir.path(), &master),
            Err(KeyError::Unauthenticated(_))
        ));
        fs::write(&path, b"not a key store").unwrap();
        assert!(matches!(
            KeyStore::open(dir.path(), &master),
            Err(KeyError::Corrupt(_))
        ));
    }

    #[test]
    fn the_sealed_file_holds_no_key_in_the_clear_and_debug_shows_none() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
        let store = KeyStore::init(dir.path(), &master, 1_000).unwrap();
        let key = store.active(KeyPurpose::Hash).unwrap().1;
        let sealed = fs::read(dir.path().join(KEY_STORE_FILE)).unwrap();
        let hex = encode_hex(key.expose());
        assert!(!sealed.windows(32).any(|w| w == key.expose()));
        assert!(!sealed.windows(64).any(|w| w == hex.as_bytes()));
        let debug = format!("{store:?} {master:?}");
        assert!(!debug.contains(&hex) && !debug.contains("abab"), "{debug}");
        assert!(matches!(
            MasterKey::from_hex("12"),
            Err(KeyError::MasterKeyFormat)
        ));
    }
}
