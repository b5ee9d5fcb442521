//! Reading the whole store into memory at start-up.

use super::codec::{decode_u32s, unpack};
use super::{Store, StoreError, HOUSEHOLD_COLUMN, PERSON_COLUMN};
use crate::classification::Classifications;
use crate::columns::ColumnData;
use crate::keys::KeyVersion;
use crate::link::PersonNo;
use crate::pseudonym::PSEUDONYM_BYTES;
use crate::schema::{ColumnKind, DatasetDef};
use crate::sealing::Sealed;

/// Everything the server keeps in memory, as stored.
#[derive(Debug)]
pub struct Snapshot {
    /// Every version of every code list.
    pub classifications: Classifications,
    /// Every declared dataset with its rows.
    pub datasets: Vec<StoredDataset>,
    /// Record keys in person order (one per person).
    pub record_keys: Vec<u32>,
    /// Households stored.
    pub households: usize,
}

/// One dataset as stored.
#[derive(Debug)]
pub struct StoredDataset {
    /// Store id.
    pub id: i64,
    /// The definition.
    pub def: DatasetDef,
    /// Uploads committed.
    pub version: u64,
    /// The person of each row, ascending.
    pub persons: Vec<PersonNo>,
    /// The household of each row, if the dataset has households.
    pub households: Option<Vec<u32>>,
    /// Column values aligned with `persons`.
    pub columns: Vec<ColumnData>,
}

impl Store {
    /// Loads the whole store, whose pseudonyms must all be sealed under
    /// storage key `sealed_under`.
    pub fn load(&self, sealed_under: KeyVersion) -> Result<Snapshot, StoreError> {
        // The pseudonyms themselves stay in the store: only uploads need
        // them (see `load_sealed_pseudonyms`). Their chunks are checked.
        let record_keys = self.load_record_keys(sealed_under)?;
        let households_known = self.count_households(sealed_under)?;
        let classifications = self.load_code_lists()?;
        let mut datasets = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT id, definition, version FROM datasets ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, definition, version) = row?;
            let def: DatasetDef = serde_json::from_str(&definition)
                .map_err(|e| StoreError::Corrupt(format!("dataset {id} definition: {e}")))?;
            let (persons, households, columns) = self.load_columns(id, &def, &classifications)?;
            let households = def.household_column().map(|_| households);
            if columns.iter().any(|c| c.len() != persons.len())
                || households
                    .as_ref()
                    .is_some_and(|h| h.len() != persons.len())
            {
                return Err(StoreError::Corrupt(format!(
                    "dataset {id} columns differ in length"
                )));
            }
            // Rows may only name persons and households the store holds.
            let beyond =
                |numbers: &[u32], known: usize| numbers.iter().any(|&n| n as usize >= known);
            if beyond(&persons, record_keys.len())
                || households
                    .as_deref()
                    .is_some_and(|h| beyond(h, households_known))
            {
                return Err(StoreError::Corrupt(format!(
                    "dataset {id} names a person or household the store does not hold"
                )));
            }
            datasets.push(StoredDataset {
                id,
                def,
                version: u64::try_from(version).unwrap_or(0),
                persons,
                households,
                columns,
            });
        }
        Ok(Snapshot {
            classifications,
            datasets,
            record_keys,
            households: households_known,
        })
    }

    /// Every person's and every household's sealed pseudonym, in number
    /// order, all sealed under `sealed_under`.
    pub fn load_sealed_pseudonyms(
        &self,
        sealed_under: KeyVersion,
    ) -> Result<(Vec<Sealed>, Vec<Sealed>), StoreError> {
        let mut persons = Vec::new();
        self.each_chunk(PERSONS, sealed_under, |row, count| {
            let blob = row.get_ref(4)?.as_blob().map_err(corrupt)?;
            sealed_blob(blob, count, &mut persons, "person")
        })?;
        let mut households = Vec::new();
        self.each_chunk(HOUSEHOLDS, sealed_under, |row, count| {
            let blob = row.get_ref(4)?.as_blob().map_err(corrupt)?;
            sealed_blob(blob, count, &mut households, "household")
        })?;
        Ok((persons, households))
    }

    /// Every person's record key, in person order, the person chunks
    /// checked without reading their pseudonyms.
    fn load_record_keys(&self, sealed_under: KeyVersion) -> Result<Vec<u32>, StoreError> {
        let mut record_keys = Vec::new();
        let persons = self.each_chunk(PERSON_KEYS, sealed_under, |row, count| {
            let before = record_keys.len();
            decode_u32s(
                row.get_ref(4)?.as_blob().map_err(corrupt)?,
                &mut record_keys,
            )?;
            if record_keys.len() - before != count {
                return Err(StoreError::Corrupt(
                    "record keys and pseudonyms differ".into(),
                ));
            }
            Ok(())
        })?;
        debug_assert_eq!(persons, record_keys.len());
        Ok(record_keys)
    }

    /// How many households the store holds, their chunks checked.
    fn count_households(&self, sealed_under: KeyVersion) -> Result<usize, StoreError> {
        self.each_chunk(HOUSEHOLD_COUNTS, sealed_under, |_, _| Ok(()))
    }

    /// Calls `each(row, count)` for every chunk of `chunks` in number
    /// order, after checking that the chunks are contiguous, sealed under
    /// `sealed_under` and of the right length; returns how many entries
    /// they hold.
    fn each_chunk(
        &self,
        chunks: &Chunks,
        sealed_under: KeyVersion,
        mut each: impl FnMut(&rusqlite::Row<'_>, usize) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let mut stmt = self.conn.prepare(chunks.select)?;
        let mut rows = stmt.query([])?;
        let mut held = 0usize;
        while let Some(row) = rows.next()? {
            let (first, count, version, bytes): (i64, i64, u32, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let what = chunks.what;
            if first != held as i64 {
                return Err(StoreError::Corrupt(format!(
                    "{what} chunks are not contiguous"
                )));
            }
            if version != sealed_under.0 {
                return Err(StoreError::Corrupt(format!(
                    "a {what} chunk is sealed under storage key version {version}, not {}",
                    sealed_under.0
                )));
            }
            if count < 0 || bytes != count * PSEUDONYM_BYTES as i64 {
                return Err(StoreError::Corrupt(format!("{what} chunk of wrong length")));
            }
            each(row, count as usize)?;
            held += count as usize;
        }
        Ok(held)
    }

    #[allow(clippy::type_complexity)]
    fn load_columns(
        &self,
        id: i64,
        def: &DatasetDef,
        lists: &Classifications,
    ) -> Result<(Vec<PersonNo>, Vec<u32>, Vec<ColumnData>), StoreError> {
        let mut columns = Vec::with_capacity(def.columns().len());
        for (i, c) in def.columns().iter().enumerate() {
            if c.kind.code_list().is_some_and(|l| lists.get(l).is_none()) {
                return Err(StoreError::Corrupt(format!(
                    "dataset {id} column {i} is on a code list the store does not hold"
                )));
            }
            let mut column = ColumnData::empty(&c.kind, lists);
            if let (ColumnKind::OpenCategorical, ColumnData::Codes { categories, .. }) =
                (&c.kind, &mut column)
            {
                *categories = self.load_categories(id, i)?;
            }
            columns.push(column);
        }
        let mut persons = Vec::new();
        let mut households = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT column_index, packing, data FROM column_chunks
             WHERE dataset = ?1 AND version = (SELECT version FROM datasets WHERE id = ?1)
             ORDER BY column_index, chunk",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let index: i64 = row.get(0)?;
            let packing: i64 = row.get(1)?;
            let data = row.get_ref(2)?.as_blob().map_err(corrupt)?;
            let column = usize::try_from(index).ok().and_then(|i| columns.get_mut(i));
            match column {
                _ if index == PERSON_COLUMN => unpack(packing, data, &mut persons)?,
                _ if index == HOUSEHOLD_COLUMN => unpack(packing, data, &mut households)?,
                Some(ColumnData::Codes { codes, .. }) => unpack(packing, data, codes)?,
                Some(ColumnData::Numbers(values)) => unpack(packing, data, values)?,
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "dataset {id} has a chunk of column {index}"
                    )))
                }
            }
        }
        Ok((persons, households, columns))
    }

    fn load_categories(&self, id: i64, column: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT value FROM categories WHERE dataset = ?1 AND column_index = ?2 ORDER BY code",
        )?;
        let values = stmt
            .query_map((id, column as i64), |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(values)
    }
}

/// Appends one chunk's sealed pseudonyms (columns: first, count,
/// key_version) to `out`, which must end where the chunk starts.
/// Appends the `count` sealed pseudonyms of a chunk's `blob` to `out`.
fn sealed_blob(
    blob: &[u8],
    count: usize,
    out: &mut Vec<Sealed>,
    what: &str,
) -> Result<(), StoreError> {
    if blob.len() != count * PSEUDONYM_BYTES {
        return Err(StoreError::Corrupt(format!("{what} chunk of wrong length")));
    }
    out.extend(
        blob.chunks_exact(PSEUDONYM_BYTES)
            .map(|p| <Sealed>::try_from(p).expect("chunks of 16")),
    );
    Ok(())
}

/// A table of pseudonym chunks, and how to read it: the query's first
/// columns are first, count, key version and the pseudonyms' length in
/// bytes (which SQLite reads without reading them).
struct Chunks {
    what: &'static str,
    select: &'static str,
}

/// Person chunks, then their pseudonyms.
const PERSONS: &Chunks = &Chunks {
    what: "person",
    select: "SELECT first_person, count, key_version, length(pseudonyms), pseudonyms
             FROM person_chunks ORDER BY first_person",
};

/// Person chunks, then their record keys (not their pseudonyms).
const PERSON_KEYS: &Chunks = &Chunks {
    what: "person",
    select: "SELECT first_person, count, key_version, length(pseudonyms), record_keys
             FROM person_chunks ORDER BY first_person",
};

/// Household chunks, then their pseudonyms.
const HOUSEHOLDS: &Chunks = &Chunks {
    what: "household",
    select: "SELECT first_household, count, key_version, length(pseudonyms), pseudonyms
             FROM household_chunks ORDER BY first_household",
};

/// Household chunks alone.
const HOUSEHOLD_COUNTS: &Chunks = &Chunks {
    what: "household",
    select: "SELECT first_household, count, key_version, length(pseudonyms)
             FROM household_chunks ORDER BY first_household",
};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
