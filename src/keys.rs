//! The pseudonymisation key and where it lives.
//!
//! Until the key-management work lands, the server keeps one random
//! development key, version 1, in a key directory of its own that must not
//! lie inside the data directory. Key material never appears in `Debug`
//! output and is zeroed on drop.
//!
//! A key is identified without being revealed by its check value,
//! HMAC-SHA256(key, [`KEY_CHECK_LABEL`]); the store records it, so a server
//! started with another key directory refuses the store instead of
//! silently pseudonymising under a key nobody linked with.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// File name of the development key inside the key directory.
pub const DEV_KEY_FILE: &str = "pseudonym-key-v1.hex";

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

    /// Draws a fresh key from the system's secure random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| KeyError::Random)?;
        Ok(PseudonymKey(bytes))
    }

    /// The key bytes, for the HMAC only.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// HMAC-SHA256(key, [`KEY_CHECK_LABEL`]): names the key, reveals nothing of it.
    pub fn check_value(&self) -> [u8; 32] {
        crate::pseudonym::KeyedHash::new(self.expose(), b"").digest(KEY_CHECK_LABEL)
    }
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
    /// No key file, and creating one is not allowed (the store holds persons).
    #[error("no key in {0}, but the store holds persons pseudonymised under a key; start with the key directory the store was created with")]
    Missing(PathBuf),
    /// The key file exists but is not 64 hex digits.
    #[error("key file {0} is corrupt (expected 64 hex digits)")]
    Corrupt(PathBuf),
    /// Reading or writing the key directory failed.
    #[error("key directory {path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Whether [`load_or_create_dev_key`] may make a key when it finds none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKey {
    /// Make one: the store is new.
    IfMissing,
    /// Never: the store already holds persons under some key.
    Never,
}

/// Whether [`load_or_create_dev_key`] found a key or made one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// An existing key file was read.
    Loaded,
    /// A new random key was written.
    Created,
}

/// Loads the development key from `key_dir`, creating a random one on first
/// use if `create` allows. Refuses a key directory inside `data_dir` and a
/// key file that others may read.
pub fn load_or_create_dev_key(
    key_dir: &Path,
    data_dir: &Path,
    create: CreateKey,
) -> Result<(PseudonymKey, KeyVersion, KeyOrigin), KeyError> {
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
    let path = key_abs.join(DEV_KEY_FILE);
    match fs::read_to_string(&path).map(Zeroizing::new) {
        Ok(text) => {
            if crate::private_fs::is_exposed(&path).map_err(io(&path))? {
                return Err(KeyError::Exposed(path));
            }
            let key = decode_hex(text.trim()).ok_or_else(|| KeyError::Corrupt(path.clone()))?;
            Ok((key, KeyVersion(1), KeyOrigin::Loaded))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create == CreateKey::Never => {
            Err(KeyError::Missing(key_abs))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = PseudonymKey::generate()?;
            write_key_file(&path, &key).map_err(io(&path))?;
            Ok((key, KeyVersion(1), KeyOrigin::Created))
        }
        Err(e) => Err(io(&path)(e)),
    }
}

fn write_key_file(path: &Path, key: &PseudonymKey) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let hex = Zeroizing::new(encode_hex(key.expose()));
    file.write_all(hex.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<PseudonymKey> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        bytes[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(PseudonymKey(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let data = dir.path().join("data");
        let (k1, _, o1) = load_or_create_dev_key(&keys, &data, CreateKey::IfMissing).unwrap();
        let (k2, _, o2) = load_or_create_dev_key(&keys, &data, CreateKey::Never).unwrap();
        assert_eq!((o1, o2), (KeyOrigin::Created, KeyOrigin::Loaded));
        assert_eq!(k1.expose(), k2.expose());
        assert_eq!(k1.check_value(), k2.check_value());
    }

    #[test]
    fn a_missing_key_is_not_created_when_creation_is_not_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let err = load_or_create_dev_key(&keys, &dir.path().join("d"), CreateKey::Never);
        assert!(matches!(err, Err(KeyError::Missing(_))));
        assert!(!keys.join(DEV_KEY_FILE).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let data = dir.path().join("data");
        load_or_create_dev_key(&keys, &data, CreateKey::IfMissing).unwrap();
        crate::private_fs::set_mode(&keys.join(DEV_KEY_FILE), 0o644).unwrap();
        let err = load_or_create_dev_key(&keys, &data, CreateKey::Never);
        assert!(matches!(err, Err(KeyError::Exposed(_))));
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
        let err = load_or_create_dev_key(&dir.path().join("k"), dir.path(), CreateKey::IfMissing)
            .unwrap_err();
        assert!(matches!(err, KeyError::InsideDataDir { .. }));
    }

    #[test]
    fn debug_prints_no_key_material() {
        let key = PseudonymKey::from_bytes([0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
    }
}
