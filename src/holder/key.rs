//! The holders' key: 32 bytes the data holders share among themselves and
//! never give to ddc, read from a file of 64 hex digits that only its
//! owner may read (the rule of ddc's own master key file).

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::pseudonym::{holder_pseudonym, Identifier, KeyedHash, HOLDER_DOMAIN};

/// The holders' key, prepared for [`holder_pseudonym`]. Prints nothing
/// in `Debug`; its key state is zeroed on drop.
pub struct HoldersKey(KeyedHash);

/// Why the holders' key cannot be read. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HoldersKeyError {
    /// The file cannot be read.
    #[error("cannot read the holders' key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Others than its owner may read or write the file.
    #[error(
        "the holders' key file {} may be read by others than its owner: \
         make it readable by its owner only (chmod 600)",
        .0.display()
    )]
    Exposed(PathBuf),
    /// The file does not hold 64 hex digits.
    #[error("the holders' key file {} must hold 64 hex digits", .0.display())]
    Malformed(PathBuf),
}

impl HoldersKey {
    /// Reads 64 hex digits (surrounding whitespace ignored) from a file
    /// readable by its owner only.
    pub fn from_file(path: &Path) -> Result<Self, HoldersKeyError> {
        let io = |source| HoldersKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = Zeroizing::new(std::fs::read(path).map_err(io)?);
        if crate::private_fs::is_exposed(path).map_err(io)? {
            return Err(HoldersKeyError::Exposed(path.to_path_buf()));
        }
        let bytes = crate::keys::decode_hex32(text.trim_ascii())
            .ok_or_else(|| HoldersKeyError::Malformed(path.to_path_buf()))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A holders' key from its bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        HoldersKey(KeyedHash::new(bytes, HOLDER_DOMAIN))
    }

    /// What the holder sends for `id`: 64 lower-case hex digits.
    pub fn pseudonym(&self, id: &Identifier) -> String {
        holder_pseudonym(&self.0, id)
    }
}

impl fmt::Debug for HoldersKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HoldersKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("holders.key");
        std::fs::write(&path, text).unwrap();
        crate::private_fs::set_mode(&path, mode).unwrap();
        path
    }

    #[test]
    fn a_key_file_is_64_hex_digits_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "0f".repeat(32);
        let key = HoldersKey::from_file(&write(dir.path(), &format!("{hex}\n"), 0o600)).unwrap();
        let id = Identifier::parse(b"249566758").unwrap();
        let expected = KeyedHash::new(&[0x0f; 32], HOLDER_DOMAIN);
        assert_eq!(key.pseudonym(&id), holder_pseudonym(&expected, &id));
        assert_eq!(format!("{key:?}"), "HoldersKey(<redacted>)");

        let exposed = write(dir.path(), &hex, 0o644);
        #[cfg(unix)]
        assert!(matches!(
            HoldersKey::from_file(&exposed),
            Err(HoldersKeyError::Exposed(_))
        ));
        for bad in ["0f".repeat(31), "zz".repeat(32), "0f".repeat(33)] {
            let path = write(dir.path(), &bad, 0o600);
            let e = HoldersKey::from_file(&path).unwrap_err();
            assert!(matches!(e, HoldersKeyError::Malformed(_)));
            assert!(!e.to_string().contains(&bad[..8]));
        }
    }
}
