//! Reading the whole store into memory at start-up.

use super::codec::{decode_i64s, decode_u32s};
use super::{Store, StoreError, HOUSEHOLD_COLUMN, PERSON_COLUMN};
use crate::classification::Classifications;
use crate::columns::ColumnData;
use crate::link::PersonNo;
use crate::pseudonym::Pseudonym;
use crate::schema::{ColumnKind, DatasetDef};

/// Everything the server keeps in memory, as stored.
#[derive(Debug)]
pub struct Snapshot {
    /// Every version of every code list.
    pub classifications: Classifications,
    /// Every declared dataset with its rows.
    pub datasets: Vec<StoredDataset>,
    /// Every stored pseudonym with its person.
    pub pseudonyms: Vec<(Pseudonym, PersonNo)>,
    /// Record keys in person order.
    pub record_keys: Vec<u32>,
    /// Every stored household pseudonym with its number.
    pub households: Vec<(Pseudonym, u32)>,
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
    /// Loads the whole store.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let (pseudonyms, record_keys) = self.load_persons()?;
        let households_known = self.load_households()?;
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
                    .is_some_and(|h| beyond(h, households_known.len()))
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
            pseudonyms,
            record_keys,
            households: households_known,
        })
    }

    #[allow(clippy::type_complexity)]
    fn load_persons(&self) -> Result<(Vec<(Pseudonym, PersonNo)>, Vec<u32>), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT first_person, count, pseudonyms, record_keys FROM person_chunks ORDER BY first_person",
        )?;
        let mut rows = stmt.query([])?;
        let mut pseudonyms = Vec::new();
        let mut record_keys = Vec::new();
        while let Some(row) = rows.next()? {
            let first: i64 = row.get(0)?;
            let count: i64 = row.get(1)?;
            if first != record_keys.len() as i64 {
                return Err(StoreError::Corrupt(
                    "person chunks are not contiguous".into(),
                ));
            }
            let blob = row.get_ref(2)?.as_blob().map_err(corrupt)?;
            if blob.len() as i64 != count * 32 {
                return Err(StoreError::Corrupt("person chunk of wrong length".into()));
            }
            for (i, p) in blob.chunks_exact(32).enumerate() {
                let bytes: [u8; 32] = p.try_into().expect("chunks of 32");
                let person = PersonNo::try_from(first + i as i64).map_err(corrupt)?;
                pseudonyms.push((Pseudonym::from_bytes(bytes), person));
            }
            decode_u32s(
                row.get_ref(3)?.as_blob().map_err(corrupt)?,
                &mut record_keys,
            )?;
            if record_keys.len() != pseudonyms.len() {
                return Err(StoreError::Corrupt(
                    "record keys and pseudonyms differ".into(),
                ));
            }
        }
        Ok((pseudonyms, record_keys))
    }

    fn load_households(&self) -> Result<Vec<(Pseudonym, u32)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT first_household, count, pseudonyms FROM household_chunks ORDER BY first_household",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let first: i64 = row.get(0)?;
            let count: i64 = row.get(1)?;
            if first != out.len() as i64 {
                return Err(StoreError::Corrupt(
                    "household chunks are not contiguous".into(),
                ));
            }
            let blob = row.get_ref(2)?.as_blob().map_err(corrupt)?;
            if blob.len() as i64 != count * 32 {
                return Err(StoreError::Corrupt(
                    "household chunk of wrong length".into(),
                ));
            }
            for p in blob.chunks_exact(32) {
                let n = u32::try_from(out.len()).map_err(corrupt)?;
                out.push((
                    Pseudonym::from_bytes(p.try_into().expect("chunks of 32")),
                    n,
                ));
            }
        }
        Ok(out)
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
            "SELECT column_index, data FROM column_chunks WHERE dataset = ?1 ORDER BY column_index, chunk",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let index: i64 = row.get(0)?;
            let data = row.get_ref(1)?.as_blob().map_err(corrupt)?;
            let column = usize::try_from(index).ok().and_then(|i| columns.get_mut(i));
            match column {
                _ if index == PERSON_COLUMN => decode_u32s(data, &mut persons)?,
                _ if index == HOUSEHOLD_COLUMN => decode_u32s(data, &mut households)?,
                Some(ColumnData::Codes { codes, .. }) => decode_u32s(data, codes)?,
                Some(ColumnData::Numbers(values)) => decode_i64s(data, values)?,
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

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
