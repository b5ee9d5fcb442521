//! Which keys the store was written under: the hash key's and the storage
//! key's version and check value, and the versions its sealed pseudonyms
//! carry.

use rusqlite::{params, OptionalExtension};

use super::log::append;
use super::{Store, StoreError};
use crate::audit::event::Entry;
use crate::keys::KeyVersion;
use crate::keystore::KeyPurpose;

/// Version 5: stored pseudonyms are sealed, 16 bytes each under the storage
/// key of the chunk's `key_version` (see `crate::sealing`). Chunks written
/// before hold 32-byte unsealed HMACs: they are marked version 0, which the
/// server seals at its next start. The key each purpose is at replaces the
/// per-version check values.
pub(super) const SCHEMA_V5: &str = "
UPDATE person_chunks SET key_version = 0;
UPDATE household_chunks SET key_version = 0;
-- The key version of each purpose ('hash', 'storage') the store is
-- written under, with its check value HMAC-SHA256(key, KEY_CHECK_LABEL).
CREATE TABLE store_keys (
    purpose     TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    check_value BLOB NOT NULL,
    since_ms    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_keys (purpose, version, check_value, since_ms)
    SELECT 'hash', key_version, check_value, recorded_ms FROM key_checks
    ORDER BY key_version DESC LIMIT 1;
DROP TABLE key_checks;
";

/// The key versions on the store's sealed pseudonyms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedVersions {
    /// No person or household is stored.
    None,
    /// Every chunk is sealed under this storage key version (0: written by
    /// a version of ddc before sealing, not sealed at all).
    One(u32),
}

impl Store {
    /// The key version and check value of `purpose` the store is written
    /// under, if recorded.
    pub fn store_key(
        &self,
        purpose: KeyPurpose,
    ) -> Result<Option<(KeyVersion, [u8; 32])>, StoreError> {
        let found: Option<(u32, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT version, check_value FROM store_keys WHERE purpose = ?1",
                [purpose.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        found
            .map(|(v, check)| {
                let check = check
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("key check value of wrong length".into()))?;
                Ok((KeyVersion(v), check))
            })
            .transpose()
    }

    /// Records the key of `purpose` the store is written under, with its
    /// log entry (for a store that has none recorded yet).
    pub fn record_store_key(
        &mut self,
        purpose: KeyPurpose,
        version: KeyVersion,
        check: &[u8; 32],
        entry: &Entry,
    ) -> Result<(), StoreError> {
        let signer = self.signer.as_ref().ok_or(StoreError::LogClosed)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO store_keys (purpose, version, check_value, since_ms) VALUES (?1, ?2, ?3, ?4)",
            params![purpose.as_str(), version.0, &check[..], entry.at_ms],
        )?;
        append(&tx, signer, entry)?;
        tx.commit()?;
        Ok(())
    }

    /// The storage key versions on the stored pseudonyms; more than one is
    /// corrupt (a rotation never leaves a store at mixed versions).
    pub fn sealed_versions(&self) -> Result<SealedVersions, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT key_version FROM person_chunks UNION SELECT key_version FROM household_chunks",
        )?;
        let versions = stmt
            .query_map([], |r| r.get::<_, u32>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        match versions[..] {
            [] => Ok(SealedVersions::None),
            [v] => Ok(SealedVersions::One(v)),
            _ => Err(StoreError::Corrupt(format!(
                "stored pseudonyms are sealed under several storage key versions {versions:?}"
            ))),
        }
    }
}
