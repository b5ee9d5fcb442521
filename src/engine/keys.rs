//! The engine's keys: bringing the store and the key store into agreement
//! at start-up, and rotating the storage key.
//!
//! The store records the hash and storage key versions it is written under
//! (with check values); the database is the authority on where a rotation
//! got to. A rotation seals a pending key into the key store first, then
//! rewrites the store under it ([`Store::rewrite_sealed`]), then activates
//! the new key and destroys the old one. A crash before the rewrite's
//! rename leaves the store at the old key with the pending key kept: the
//! next start completes the rotation. A crash after it leaves the store at
//! the new key: the next start activates it.

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{entry, Caller, Engine, EngineError};
use crate::audit::digest::ContentDigester;
use crate::audit::event::{Event, KeyRef};
use crate::keys::{KeyCustody, KeyError, KeyVersion};
use crate::keystore::KeyPurpose;
use crate::pseudonym::{Pseudonymiser, PSEUDONYM_BYTES};
use crate::sealing::{Sealed, StorageKey};
use crate::store::{Rewrite, SealedVersions, Store, StoreError};

/// Width of a stored pseudonym written before sealing (schema version 4):
/// the whole HMAC, unsealed. Its first 16 bytes are the pseudonym.
const UNSEALED_BYTES: usize = 32;

/// The store with the storage key its pseudonyms are sealed under: one
/// lock guards both, so a rotation swaps them together. An upload seals
/// with a clone of the key taken under the lock, and checks before it
/// writes that the key is still the one in use.
#[derive(Debug)]
pub(super) struct Durable {
    pub(super) store: Store,
    pub(super) storage: std::sync::Arc<StorageKey>,
}

impl Deref for Durable {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for Durable {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// A completed rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The storage key version before.
    pub from: KeyVersion,
    /// The storage key version now.
    pub to: KeyVersion,
    /// Persons resealed.
    pub persons: u64,
    /// Households resealed.
    pub households: u64,
}

/// A point in a rotation at which a test can have the server stop (and be
/// killed): `key-added`, `copied`, `built`, `swapped`, `activated`.
pub type RotationPause = Option<String>;

fn now_ms(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The keys the engine runs with, settled with the store.
pub(super) struct Settled {
    pub(super) pseudonymiser: Pseudonymiser,
    pub(super) storage: StorageKey,
    pub(super) digester: ContentDigester,
    pub(super) log_verifier: crate::audit::note::Verifier,
}

/// Checks the store against the key store and completes whatever a crash
/// interrupted; attaches the log's signing key (its checkpoints named
/// `origin`) to the store; returns the keys to run with.
pub(super) fn settle(
    store: &mut Store,
    custody: &mut KeyCustody,
    origin: &str,
    now: SystemTime,
) -> Result<Settled, EngineError> {
    // Compare first what the store recorded: a wrong key store writes nothing.
    let (version, key) = custody
        .keys()
        .active(KeyPurpose::Hash)
        .ok_or(EngineError::KeyGone("hash", 0))?;
    let pseudonymiser = Pseudonymiser::new(key, version);
    let hash = (KeyPurpose::Hash, version, *pseudonymiser.check_value());
    let hash_recorded = is_recorded(store, hash)?;
    let mut created = Vec::new();
    for purpose in [KeyPurpose::Storage, KeyPurpose::Signing, KeyPurpose::Audit] {
        if custody.ensure_key(purpose, now_ms(now))? {
            tracing::warn!(
                purpose = purpose.as_str(),
                "the key store had no such key: made one"
            );
            created.push(purpose);
        }
    }
    let log = open_log(store, custody, origin)?;
    for purpose in created {
        let version = custody.keys().active(purpose).map_or(0, |(v, _)| v.0);
        let event = Event::KeyCreated(key_ref(purpose, version));
        store.append_entry(&entry(&Caller::server(), now, event))?;
    }
    let checks = [(hash, hash_recorded)].into_iter().chain(log.checks);
    for (key, recorded) in checks {
        if !recorded {
            record(store, key, now)?;
        }
    }
    let keys = custody.keys();
    let (active, active_key) = keys
        .active(KeyPurpose::Storage)
        .ok_or(EngineError::KeyGone("storage", 0))?;
    let storage = match store.store_key(KeyPurpose::Storage)? {
        Some((v, _)) if v == active => StorageKey::new(active_key, active),
        Some((v, _)) if keys.pending(KeyPurpose::Storage).is_some_and(|p| p.0 == v) => {
            // The rewrite was renamed in, the key store not yet updated.
            let key = StorageKey::new(keys.key(KeyPurpose::Storage, v).expect("pending"), v);
            custody.activate(KeyPurpose::Storage, v, now_ms(now))?;
            tracing::warn!(version = v.0, "completed a storage key rotation");
            key
        }
        Some((v, _)) => return Err(EngineError::KeyGone("storage", v.0)),
        None => {
            let key = StorageKey::new(active_key, active);
            match store.sealed_versions()? {
                SealedVersions::None => {
                    let entry = entry(
                        &Caller::server(),
                        now,
                        Event::KeyRecorded(key_ref(KeyPurpose::Storage, active.0)),
                    );
                    store.record_store_key(KeyPurpose::Storage, active, key.check_value(), &entry)?;
                }
                SealedVersions::One(0) => {
                    let entry = entry(
                        &Caller::server(),
                        now,
                        Event::KeySealed(key_ref(KeyPurpose::Storage, active.0)),
                    );
                    reseal_store(store, None, &key, &entry, &|_| {})?;
                    tracing::warn!("sealed the pseudonyms of a store written by an earlier ddc");
                }
                SealedVersions::One(v) => {
                    return Err(StoreError::Corrupt(format!(
                        "pseudonyms sealed under storage key version {v}, which the store does not record"
                    ))
                    .into())
                }
            }
            key
        }
    };
    check_or_record(
        store,
        KeyPurpose::Storage,
        storage.version(),
        storage.check_value(),
        now,
    )?;
    Ok(Settled {
        pseudonymiser,
        storage,
        digester: log.digester,
        log_verifier: log.verifier,
    })
}

/// The log's keys, opened.
struct LogKeys {
    digester: ContentDigester,
    verifier: crate::audit::note::Verifier,
    /// The signing and audit keys, and whether the store recorded them.
    checks: [(KeyCheck, bool); 2],
}

/// Compares the signing and audit keys with the store's record of them,
/// then attaches the signing key to the store: entries can be appended.
fn open_log(store: &mut Store, custody: &KeyCustody, origin: &str) -> Result<LogKeys, EngineError> {
    let keys = custody.keys();
    let active = |purpose: KeyPurpose| {
        keys.active(purpose)
            .ok_or(EngineError::KeyGone(purpose.as_str(), 0))
    };
    let (signing_version, seed) = active(KeyPurpose::Signing)?;
    let signing = (KeyPurpose::Signing, signing_version, seed.check_value());
    let (audit_version, audit_key) = active(KeyPurpose::Audit)?;
    let audit = (KeyPurpose::Audit, audit_version, audit_key.check_value());
    let checks = [
        (signing, is_recorded(store, signing)?),
        (audit, is_recorded(store, audit)?),
    ];
    let signer =
        crate::audit::log_signer(origin, seed).map_err(|e| EngineError::Store(e.into()))?;
    let verifier = signer.verifier();
    store.attach_signer(signer);
    Ok(LogKeys {
        digester: ContentDigester::new(audit_key),
        verifier,
        checks,
    })
}

fn key_ref(purpose: KeyPurpose, version: u32) -> KeyRef {
    KeyRef {
        purpose: purpose.as_str().to_owned(),
        version,
    }
}

/// A key: its purpose, version and check value.
type KeyCheck = (KeyPurpose, KeyVersion, [u8; 32]);

/// Whether the store recorded `key`; an error if it recorded another.
fn is_recorded(store: &Store, (purpose, version, check): KeyCheck) -> Result<bool, EngineError> {
    match store.store_key(purpose)? {
        Some((v, recorded)) if v == version && recorded == check => Ok(true),
        Some(_) => Err(EngineError::KeyMismatch(purpose.as_str(), version.0)),
        None => Ok(false),
    }
}

/// Records `key` as one the store is written under.
fn record(
    store: &mut Store,
    (purpose, version, check): KeyCheck,
    now: SystemTime,
) -> Result<(), EngineError> {
    let event = Event::KeyRecorded(key_ref(purpose, version.0));
    let entry = entry(&Caller::server(), now, event);
    Ok(store.record_store_key(purpose, version, &check, &entry)?)
}

/// Checks a key against the store's record of it, recording it on first use.
fn check_or_record(
    store: &mut Store,
    purpose: KeyPurpose,
    version: KeyVersion,
    check: &[u8; 32],
    now: SystemTime,
) -> Result<(), EngineError> {
    if !is_recorded(store, (purpose, version, *check))? {
        record(store, (purpose, version, *check), now)?;
    }
    Ok(())
}

/// Rewrites the store with every pseudonym sealed under `to`, from `from`
/// (`None`: the unsealed pseudonyms of a version-4 store).
fn reseal_store(
    store: &mut Store,
    from: Option<&StorageKey>,
    to: &StorageKey,
    entry: &crate::audit::event::Entry,
    step: &dyn Fn(&str),
) -> Result<(), StoreError> {
    let reseal = |version: u32, blob: &[u8]| -> Result<Vec<u8>, StoreError> {
        let mut blocks: Vec<Sealed> = match from {
            Some(from) if version == from.version().0 => {
                let mut blocks = blocks_of(blob, PSEUDONYM_BYTES)?;
                from.unseal_in_place(&mut blocks);
                blocks
            }
            None if version == 0 => blocks_of(blob, UNSEALED_BYTES)?,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "a chunk sealed under storage key version {version} in a rotation from {:?}",
                    from.map(|f| f.version().0)
                )))
            }
        };
        to.seal_in_place(&mut blocks);
        Ok(blocks.concat())
    };
    store.rewrite_sealed(&Rewrite {
        to: to.version(),
        check: to.check_value(),
        reseal: &reseal,
        entry,
        step,
    })
}

/// The first 16 bytes of each `width`-byte value of `blob`.
fn blocks_of(blob: &[u8], width: usize) -> Result<Vec<Sealed>, StoreError> {
    if !blob.len().is_multiple_of(width) {
        return Err(StoreError::Corrupt(
            "pseudonym chunk of wrong length".into(),
        ));
    }
    Ok(blob
        .chunks_exact(width)
        .map(|p| <Sealed>::try_from(&p[..PSEUDONYM_BYTES]).expect("16 bytes"))
        .collect())
}

impl Engine {
    /// Rotates the storage key: every stored pseudonym is resealed under a
    /// new key, the old key is destroyed. Uploads and releases wait for it;
    /// tables keep being computed (the pseudonyms in memory do not change).
    pub fn rotate_storage_key(
        &self,
        caller: &Caller,
        now: SystemTime,
    ) -> Result<Rotation, EngineError> {
        let mut durable = self.lock_store();
        let mut custody = self.lock_custody();
        let step = |point: &str| {
            if self.rotation_pause.as_deref() == Some(point) {
                eprintln!("ddc: rotation paused at {point}");
                loop {
                    std::thread::park();
                }
            }
        };
        let to_version = custody.add_pending(KeyPurpose::Storage, now_ms(now))?;
        step("key-added");
        let to_key = custody
            .keys()
            .key(KeyPurpose::Storage, to_version)
            .ok_or(EngineError::KeyGone("storage", to_version.0))?;
        let to = StorageKey::new(to_key, to_version);
        let (persons, households) = {
            let state = self.read();
            (state.record_keys.len() as u64, state.households as u64)
        };
        let durable = &mut *durable;
        let rotation = Rotation {
            from: durable.storage.version(),
            to: to_version,
            persons,
            households,
        };
        let entry = entry(
            caller,
            now,
            Event::KeyRotated {
                purpose: KeyPurpose::Storage.as_str().to_owned(),
                from: rotation.from.0,
                to: rotation.to.0,
                persons,
                households,
            },
        );
        reseal_store(
            &mut durable.store,
            Some(&durable.storage),
            &to,
            &entry,
            &step,
        )?;
        durable.storage = std::sync::Arc::new(to);
        custody.activate(KeyPurpose::Storage, to_version, now_ms(now))?;
        step("activated");
        Ok(rotation)
    }

    /// What the key store holds: versions and times, never a key.
    pub fn key_status(&self) -> Vec<crate::keystore::KeyInfo> {
        self.lock_custody().keys().status()
    }

    /// Whether a rotation was interrupted before its rewrite was in place
    /// (the server completes it at start).
    pub fn rotation_pending(&self) -> bool {
        self.lock_custody()
            .keys()
            .pending(KeyPurpose::Storage)
            .is_some()
    }

    fn lock_custody(&self) -> MutexGuard<'_, KeyCustody> {
        self.custody.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl From<KeyError> for EngineError {
    fn from(e: KeyError) -> Self {
        EngineError::Keys(e)
    }
}
