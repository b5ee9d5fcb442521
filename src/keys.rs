//! The pseudonymisation key and where it lives.
//!
//! Until the key-management work lands, the server keeps one random
//! development key, version 1, in a key directory of its own that must not
//! lie inside the data directory. Key material never appears in `Debug`
//! output and is zeroed on drop.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// File name of the development key inside the key directory.
const DEV_KEY_FILE: &str = "pseudonym-key-v1.hex";

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

/// Whether [`load_or_create_dev_key`] found a key or made one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// An existing key file was read.
    Loaded,
    /// A new random key was written.
    Created,
}

/// Loads the development key from `key_dir`, creating a random one on first
/// use. Refuses a key directory inside `data_dir`.
pub fn load_or_create_dev_key(
    key_dir: &Path,
    data_dir: &Path,
) -> Result<(PseudonymKey, KeyVersion, KeyOrigin), KeyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    fs::create_dir_all(key_dir).map_err(io(key_dir))?;
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
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = decode_hex(text.trim()).ok_or_else(|| KeyError::Corrupt(path.clone()))?;
            Ok((key, KeyVersion(1), KeyOrigin::Loaded))
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
        let (k1, _, o1) = load_or_create_dev_key(&keys, &data).unwrap();
        let (k2, _, o2) = load_or_create_dev_key(&keys, &data).unwrap();
        assert_eq!((o1, o2), (KeyOrigin::Created, KeyOrigin::Loaded));
        assert_eq!(k1.expose(), k2.expose());
    }

    #[test]
    fn key_dir_inside_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_or_create_dev_key(&dir.path().join("k"), dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::InsideDataDir { .. }));
    }

    #[test]
    fn debug_prints_no_key_material() {
        let key = PseudonymKey::from_bytes([0xab; 32]);
        assert!(!format!("{key:?}").contains("abab"));
    }
}
