//! Storage key rotation at population scale: `cargo run --release --example
//! rotation_timing [PERSONS]` (default 20,000,000). Builds a store of that
//! many persons in one dataset, then times opening it (load, unseal, index)
//! and one rotation through the engine, as `ddc keys rotate` runs it.

use std::time::{Instant, SystemTime};

use ddc::audit::event::{Entry, Event};
use ddc::audit::{log_signer, DEFAULT_ORIGIN};
use ddc::auth::Caller;
use ddc::columns::ColumnData;
use ddc::disclosure::DisclosurePolicy;
use ddc::engine::Engine;
use ddc::keys::{KeyCustody, KeyVersion};
use ddc::keystore::{KeyPurpose, KeyStore, MasterKey, MasterKeySource};
use ddc::schema::{ColumnDef, ColumnKind, DatasetDef};
use ddc::sealing::StorageKey;
use ddc::store::{row_chunks, Store, UploadWrite};

fn main() -> anyhow::Result<()> {
    let persons: usize = std::env::args()
        .nth(1)
        .map_or(Ok(20_000_000), |a| a.parse())?;
    let root = tempfile::tempdir()?;
    let (data_dir, key_dir) = (root.path().join("data"), root.path().join("keys"));
    let master_file = root.path().join("master.key");
    let master = MasterKey::generate()?;
    master.write_new_file(&master_file)?;
    let keys = KeyStore::init(&key_dir, &master, 0)?;
    let (version, key) = keys.active(KeyPurpose::Storage).expect("a storage key");
    let storage = StorageKey::new(key, version);

    let started = Instant::now();
    let mut store = Store::open(&data_dir)?;
    let (_, seed) = keys.active(KeyPurpose::Signing).expect("a signing key");
    store.attach_signer(log_signer(DEFAULT_ORIGIN, seed)?);
    let entry = |action: &str| {
        let event = Event::Legacy {
            action: action.to_owned(),
            detail: "{}".to_owned(),
        };
        Entry::new(0, "rotation_timing", event)
    };
    let def = DatasetDef::new(
        "cbs.p",
        "cbs",
        "bsn",
        None,
        vec![ColumnDef::new("x", ColumnKind::Integer)],
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let id = store.create_dataset(&def, &entry("dataset.create"))?;
    store.record_store_key(
        KeyPurpose::Storage,
        version,
        storage.check_value(),
        &entry("key.check_recorded"),
    )?;
    // Any 16 bytes are the seal of some pseudonym: seal a counter.
    let mut sealed: Vec<[u8; 16]> = (0..persons as u128).map(u128::to_le_bytes).collect();
    storage.seal_in_place(&mut sealed);
    let new_persons: Vec<_> = sealed.into_iter().zip(0u32..).collect();
    let numbers: Vec<u32> = (0..persons as u32).collect();
    let columns = [ColumnData::Numbers(vec![1; persons])];
    let chunks: Vec<_> = row_chunks(&numbers, None, &columns)
        .iter()
        .map(ddc::store::RowChunk::encode)
        .collect();
    store.stage_rows(id, 1, &chunks)?;
    store.commit_upload(
        &UploadWrite {
            dataset_id: id,
            version: 1,
            new_persons: &new_persons,
            new_record_keys: &numbers,
            new_households: &[],
            key_version: KeyVersion(version.0),
            columns: &columns,
            open_columns: &[],
            upload_id: "timing",
            receipt: "{}",
        },
        &entry("dataset.upload"),
    )?;
    drop((store, new_persons, numbers));
    println!(
        "built a store of {persons} persons in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let custody = KeyCustody::new(
        KeyStore::open(&key_dir, &master)?,
        MasterKeySource::File(master_file),
    );
    let engine = Engine::open(
        Store::open(&data_dir)?,
        custody,
        DisclosurePolicy::default(),
        DEFAULT_ORIGIN,
    )?;
    println!(
        "opened it (load, unseal, index) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let rotation = engine.rotate_storage_key(&Caller::server(), SystemTime::now())?;
    println!(
        "rotated the storage key {} -> {}: {} persons resealed in {:.1} s",
        rotation.from.0,
        rotation.to.0,
        rotation.persons,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
