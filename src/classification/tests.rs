use super::*;

fn code(code: &str, parent: Option<&str>) -> Code {
    Code {
        code: code.into(),
        label: format!("label {code}"),
        label_en: None,
        parent: parent.map(Into::into),
    }
}

fn draft(name: &str, parent: Option<&str>, codes: Vec<Code>) -> CodeListDraft {
    CodeListDraft {
        name: name.into(),
        parent: parent.map(Into::into),
        codes,
    }
}

fn add(registry: &mut Classifications, d: &CodeListDraft) -> CodeListId {
    match registry.prepare(d).unwrap() {
        Prepared::New(list) => registry.insert(list).id().clone(),
        Prepared::Unchanged(list) => list.id().clone(),
    }
}

/// sector (po, vo) and level (groep, havo, vwo) within sector.
fn education() -> (Classifications, CodeListId, CodeListId) {
    let mut r = Classifications::default();
    let sector = add(
        &mut r,
        &draft("sector", None, vec![code("po", None), code("vo", None)]),
    );
    let level = add(
        &mut r,
        &draft(
            "niveau",
            Some("sector"),
            vec![
                code("groep", Some("po")),
                code("havo", Some("vo")),
                code("vwo", Some("vo")),
            ],
        ),
    );
    (r, sector, level)
}

#[test]
fn a_lineage_maps_every_code_to_its_ancestors() {
    let (r, sector, level) = education();
    let lineage = r.lineage(&level).unwrap();
    assert_eq!(lineage.levels().len(), 2);
    assert_eq!(lineage.level_of(&sector), Some(1));
    assert_eq!(lineage.level_named("niveau"), Some(0));
    assert_eq!(lineage.ancestors(0, 1), [0, 1, 1]);
    assert_eq!(lineage.ancestor(2, 0, 0), 2);
}

#[test]
fn a_changed_draft_is_a_new_version_and_an_equal_one_is_not() {
    let (mut r, sector, _) = education();
    let same = draft("sector", None, vec![code("po", None), code("vo", None)]);
    assert!(matches!(r.prepare(&same).unwrap(), Prepared::Unchanged(l) if l.id() == &sector));
    let wider = draft(
        "sector",
        None,
        vec![code("po", None), code("vo", None), code("mbo", None)],
    );
    let v2 = add(&mut r, &wider);
    assert_eq!(v2.version, 2);
    assert_eq!(
        r.get(&sector).unwrap().codes().len(),
        2,
        "v1 is kept as it was"
    );
    assert_eq!(r.latest("sector").unwrap().id(), &v2);
}

#[test]
fn parents_must_exist_and_be_named_by_every_code() {
    let (r, _, _) = education();
    let problems = r
        .prepare(&draft(
            "niveau",
            Some("sector"),
            vec![
                code("havo", Some("vo")),
                code("mbo1", Some("mbo")),
                code("x", None),
            ],
        ))
        .unwrap_err();
    let fields: Vec<String> = problems.iter().map(|p| p.field.to_string()).collect();
    assert_eq!(fields, ["codes[2].parent", "codes[1].parent"]);
    assert!(problems.iter().all(|p| !p.reason.contains("mbo")));
    let problems = r
        .prepare(&draft(
            "niveau",
            Some("nope"),
            vec![code("havo", Some("vo"))],
        ))
        .unwrap_err();
    assert_eq!(problems[0].field, "parent");
}

#[test]
fn codes_are_unique_clean_and_the_name_simple() {
    let r = Classifications::default();
    let problems = r
        .prepare(&draft(
            "Niveau",
            None,
            vec![
                code("a", None),
                code("a", None),
                code(" b", None),
                code("c\u{7}", None),
            ],
        ))
        .unwrap_err();
    let fields: Vec<String> = problems.iter().map(|p| p.field.to_string()).collect();
    let label = "codes[3].label"; // the generated label holds the bell too
    assert_eq!(
        fields,
        [
            "name",
            "codes[1].code",
            "codes[2].code",
            "codes[3].code",
            label
        ]
    );
}

#[test]
fn columns_on_an_ancestor_list_depend_on_the_detailed_column() {
    let (r, sector, level) = education();
    let other = None;
    let deps = dependencies(&[Some(&level), other, Some(&sector), Some(&level)], &r);
    assert_eq!(
        deps,
        [
            Dependency {
                child: 0,
                parent: 2,
                level: 1
            },
            Dependency {
                child: 3,
                parent: 2,
                level: 1
            },
        ]
    );
}
