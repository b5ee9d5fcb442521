//! Row-by-row agreement of dependent columns: where one column's code list
//! is an ancestor of another's (sector above level), a row's coarse code
//! must be the ancestor of its detailed code.
//!
//! The code lists are resolved once, when the upload opens, into one table
//! per dependency (detailed code → expected coarse code), so that a row
//! costs one array access per dependency. A disagreement names both
//! columns, never their values.

use super::values::Parsed;
use crate::classification::{dependencies, Classifications};
use crate::schema::DatasetDef;

/// One dependency of the dataset, resolved.
#[derive(Clone)]
struct Agreement {
    /// Column index of the detailed column.
    child: usize,
    /// Column index of the coarse column.
    parent: usize,
    /// `expected[c]`: the coarse code of detailed code `c`.
    expected: Vec<u32>,
    /// Why a row that disagrees is invalid, in declared names only.
    reason: String,
}

/// Every dependency among a dataset's columns. See the [module docs](self).
#[derive(Clone)]
pub(super) struct Agreements(Vec<Agreement>);

impl Agreements {
    /// The dependencies among `def`'s columns, with their lists from `lists`.
    pub(super) fn new(def: &DatasetDef, lists: &Classifications) -> Self {
        let found = dependencies(&def.code_lists(), lists)
            .into_iter()
            .filter_map(|d| {
                let lineage = lists.lineage(def.columns()[d.child].kind.code_list()?)?;
                let (child, parent) = (&def.columns()[d.child].name, &def.columns()[d.parent].name);
                Some(Agreement {
                    child: d.child,
                    parent: d.parent,
                    expected: lineage.ancestors(0, d.level),
                    reason: format!("the `{child}` code does not lie within the row's `{parent}`"),
                })
            })
            .collect();
        Agreements(found)
    }

    /// The disagreements of one row whose values all parsed (`parsed[i]`
    /// for column `i`): the detailed column's index with the reason.
    pub(super) fn check<'a>(
        &'a self,
        parsed: &'a [Parsed],
    ) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        self.0.iter().filter_map(move |a| {
            let (Parsed::Code(child), Parsed::Code(parent)) = (parsed[a.child], parsed[a.parent])
            else {
                return None;
            };
            let expected = a.expected.get(child as usize).copied();
            (expected != Some(parent)).then_some((a.child, a.reason.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::classification::{Classifications, Code, CodeListDraft, CodeListId, Prepared};
    use crate::ingest::{parse_upload, InvalidRows};
    use crate::keys::{KeyVersion, PseudonymKey};
    use crate::pseudonym::Pseudonymiser;
    use crate::schema::{ColumnDef, ColumnKind, DatasetDef};

    fn publish(r: &mut Classifications, name: &str, parent: Option<&str>, codes: &[(&str, &str)]) {
        let draft = CodeListDraft {
            name: name.into(),
            parent: parent.map(Into::into),
            codes: (codes.iter())
                .map(|(code, up)| Code {
                    code: (*code).into(),
                    label: code.to_uppercase(),
                    label_en: None,
                    parent: Some((*up).to_owned()).filter(|p| !p.is_empty()),
                })
                .collect(),
        };
        let Ok(Prepared::New(list)) = r.prepare(&draft) else {
            panic!("a new list");
        };
        r.insert(list);
    }

    fn on(list: &str) -> ColumnKind {
        let code_list = CodeListId {
            name: list.into(),
            version: 1,
        };
        ColumnKind::Classified { code_list }
    }

    #[test]
    fn a_grandparent_column_is_checked_through_the_middle_list() {
        let mut r = Classifications::default();
        publish(&mut r, "provincie", None, &[("nh", ""), ("zh", "")]);
        publish(
            &mut r,
            "corop",
            Some("provincie"),
            &[("c1", "nh"), ("c2", "zh")],
        );
        let gemeenten = [("ams", "c1"), ("rdam", "c2"), ("haarlem", "c1")];
        publish(&mut r, "gemeente", Some("corop"), &gemeenten);
        let columns = vec![
            ColumnDef::new("provincie", on("provincie")),
            ColumnDef::new("gemeente", on("gemeente")),
        ];
        let def = Arc::new(DatasetDef::new("cbs.g", "cbs", "bsn", None, columns).unwrap());
        let csv = "bsn,provincie,gemeente\n\
                   900000004,nh,ams\n\
                   900000016,nh,rdam\n\
                   900000028,nh,haarlem\n\
                   900000041,zh,rdam\n";
        let p = Arc::new(Pseudonymiser::new(
            &PseudonymKey::from_bytes([7; 32]),
            KeyVersion(1),
        ));
        let parsed = parse_upload(csv.as_bytes(), def, &r, &p, InvalidRows::Skip).unwrap();
        assert_eq!(parsed.pseudonyms.len(), 3);
        let problems: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            ["rows[2].gemeente: the `gemeente` code does not lie within the row's `provincie`"]
        );
        let crate::columns::ColumnData::Codes { categories, codes } = &parsed.columns[1] else {
            panic!("codes");
        };
        assert_eq!(categories, &["ams", "rdam", "haarlem"], "the list's order");
        assert_eq!(codes, &[0, 2, 1]);
    }
}
