//! Reading the whole store into memory at start-up.

use rusqlite::types::Value;

use super::{rows_table, Store, StoreError};
use crate::columns::ColumnData;
use crate::link::PersonNo;
use crate::pseudonym::Pseudonym;
use crate::schema::{ColumnKind, DatasetDef};

/// Everything the server keeps in memory, as stored.
#[derive(Debug)]
pub struct Snapshot {
    /// Every declared dataset with its rows.
    pub datasets: Vec<StoredDataset>,
    /// Every stored pseudonym with its person.
    pub pseudonyms: Vec<(Pseudonym, PersonNo)>,
    /// Record keys in person order.
    pub record_keys: Vec<u32>,
}

/// One dataset as stored.
#[derive(Debug)]
pub struct StoredDataset {
    /// Row-table id.
    pub id: i64,
    /// The definition.
    pub def: DatasetDef,
    /// Uploads committed.
    pub version: u64,
    /// The person of each row, ascending.
    pub persons: Vec<PersonNo>,
    /// Column values aligned with `persons`.
    pub columns: Vec<ColumnData>,
}

impl Store {
    /// Loads the whole store.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let record_keys = self.load_record_keys()?;
        let pseudonyms = self.load_pseudonyms()?;
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
            let (persons, columns) = self.load_rows(id, &def)?;
            datasets.push(StoredDataset {
                id,
                def,
                version: u64::try_from(version).unwrap_or(0),
                persons,
                columns,
            });
        }
        Ok(Snapshot {
            datasets,
            pseudonyms,
            record_keys,
        })
    }

    fn load_record_keys(&self) -> Result<Vec<u32>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT person, record_key FROM persons ORDER BY person")?;
        let mut keys = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let person: i64 = row.get(0)?;
            if person != keys.len() as i64 {
                return Err(StoreError::Corrupt("person numbers are not dense".into()));
            }
            keys.push(row.get::<_, u32>(1)?);
        }
        Ok(keys)
    }

    fn load_pseudonyms(&self) -> Result<Vec<(Pseudonym, PersonNo)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT pseudonym, person FROM pseudonyms")?;
        let mut out = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let bytes: [u8; 32] = row
                .get_ref(0)?
                .as_blob()
                .map_err(|e| StoreError::Corrupt(format!("pseudonym: {e}")))?
                .try_into()
                .map_err(|_| StoreError::Corrupt("pseudonym of wrong length".into()))?;
            out.push((Pseudonym::from_bytes(bytes), row.get::<_, u32>(1)?));
        }
        Ok(out)
    }

    fn load_rows(
        &self,
        id: i64,
        def: &DatasetDef,
    ) -> Result<(Vec<PersonNo>, Vec<ColumnData>), StoreError> {
        let mut columns = Vec::with_capacity(def.columns().len());
        for (i, c) in def.columns().iter().enumerate() {
            let mut column = ColumnData::empty(&c.kind);
            if let (ColumnKind::OpenCategorical, ColumnData::Codes { categories, .. }) =
                (&c.kind, &mut column)
            {
                *categories = self.load_categories(id, i)?;
            }
            columns.push(column);
        }
        let select: Vec<String> = (0..columns.len()).map(|i| format!(", c{i}")).collect();
        let sql = format!(
            "SELECT person{} FROM {} ORDER BY person",
            select.concat(),
            rows_table(id)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut persons = Vec::new();
        while let Some(row) = rows.next()? {
            persons.push(row.get::<_, u32>(0)?);
            for (i, column) in columns.iter_mut().enumerate() {
                match column {
                    ColumnData::Codes { codes, .. } => codes.push(row.get(i + 1)?),
                    ColumnData::Numbers(v) => v.push(row.get(i + 1)?),
                }
            }
        }
        Ok((persons, columns))
    }

    fn load_categories(&self, id: i64, column: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT value FROM categories WHERE dataset = ?1 AND column_index = ?2 ORDER BY code",
        )?;
        let values = stmt
            .query_map((id, column as i64), |r| r.get::<_, Value>(0))?
            .map(|v| match v? {
                Value::Text(s) => Ok(s),
                _ => Err(StoreError::Corrupt("category is not text".into())),
            })
            .collect();
        values
    }
}
