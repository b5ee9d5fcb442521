use super::*;

/// One entry of every kind, as the engine writes them.
pub(crate) fn samples() -> Vec<Entry> {
    let failure = UploadFailure {
        dataset: "duo.leerlingen".into(),
        organisation: "duo".into(),
        reason: "invalid_rows".into(),
        rows_rejected: 3,
        bytes: 1200,
        content_digest: "ab".repeat(32),
    };
    let shape = CodeListShape {
        name: "onderwijsniveau".into(),
        version: 2,
        parent: Some("sector@1".into()),
        codes: 14,
    };
    let key = KeyRef {
        purpose: "storage".into(),
        version: 2,
    };
    let policy = serde_json::json!({ "threshold": 10, "dominance_k": 0.85, "p_percent": 10.0, "tiny": 1e-7 });
    let request = serde_json::json!({ "datasets": ["cbs.personen"], "group_by": ["niveau", "decile"], "project": "gelijke-kansen" });
    let events = vec![
        Event::ServerStarted {
            version: "0.1.0".into(),
        },
        Event::ServerStopped {
            version: "0.1.0".into(),
        },
        Event::DatasetCreated {
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
            definition: serde_json::json!({ "name": "cbs.personen", "columns": [] }),
        },
        Event::CodeListCreated(shape.clone()),
        Event::CodeListUnchanged(shape),
        Event::CodeListRefused {
            fields: vec!["codes[3].code".into()],
        },
        Event::UploadAccepted {
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
            upload_id: "u-1".into(),
            version: 1,
            replace: false,
            rows_read: 10,
            rows_stored: 9,
            rows_rejected: 1,
            bytes: 400,
            content_digest: "cd".repeat(32),
        },
        Event::UploadReplayed {
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
            upload_id: "u-1".into(),
            version: 1,
        },
        Event::DatasetDeleted {
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
            rows: 40,
            projects: vec!["gelijke-kansen".into()],
        },
        Event::UploadChecked {
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
            rows_read: 10,
            rows_rejected: 1,
            bytes: 200,
        },
        Event::UploadRefused(failure.clone()),
        Event::UploadRejected(failure.clone()),
        Event::UploadBroken(failure),
        Event::LinkageReleased {
            release: 1,
            project: Some("gelijke-kansen".into()),
            datasets: vec!["cbs.personen".into(), "duo.leerlingen".into()],
            released: 3,
            withheld: 0,
        },
        Event::TableReleased {
            release: 2,
            project: "gelijke-kansen".into(),
            request: request.clone(),
            policy,
            datasets: vec!["cbs.personen".into()],
            cells: 12,
            statuses: [
                ("released".to_owned(), 10),
                ("withheld_threshold".to_owned(), 2),
            ]
            .into_iter()
            .collect(),
            cells_digest: "ef".repeat(32),
        },
        Event::TableRefused {
            project: "gelijke-kansen".into(),
            request,
            rule: "attacker_budget_work".into(),
        },
        Event::KeyCreated(key.clone()),
        Event::KeyRecorded(key.clone()),
        Event::KeySealed(key),
        Event::KeyRotated {
            purpose: "storage".into(),
            from: 1,
            to: 2,
            persons: 100,
            households: 40,
        },
        Event::ProjectCreated {
            project: "gelijke-kansen".into(),
            purpose: "kansengelijkheid".into(),
            members: vec!["uva/analyst/jansen".into()],
            datasets: vec!["cbs.personen".into(), "duo.leerlingen".into()],
        },
        Event::ProjectChanged {
            project: "gelijke-kansen".into(),
            added_members: vec!["uva/analyst/pietersen".into()],
            removed_members: vec![],
            added_datasets: vec![],
            removed_datasets: vec!["duo.leerlingen".into()],
        },
        Event::DatasetApproved {
            project: "gelijke-kansen".into(),
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
        },
        Event::ApprovalWithdrawn {
            project: "gelijke-kansen".into(),
            dataset: "cbs.personen".into(),
            organisation: "cbs".into(),
        },
        Event::ProjectClosed {
            project: "gelijke-kansen".into(),
        },
        Event::AccessDenied {
            method: "/ddc.v1.Release/Tabulate".into(),
            reason: "not a member of the project".into(),
        },
        Event::Legacy {
            action: "dataset.upload".into(),
            detail: r#"{"dataset":"x","rows_read":3}"#.into(),
        },
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| Entry::new(1_796_256_000_000 + i as i64, "development", e))
        .collect()
}

#[test]
fn every_kind_round_trips_and_is_named_as_encoded() {
    let samples = samples();
    let kinds: std::collections::BTreeSet<_> = samples.iter().map(|e| e.event.kind()).collect();
    assert_eq!(kinds.len(), samples.len(), "one sample per kind");
    for entry in samples {
        let bytes = encode(&entry).unwrap();
        assert_eq!(decode(&bytes).unwrap(), entry);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["event"]["kind"], entry.event.kind());
        assert_eq!(value["v"], ENCODING_VERSION);
        assert!(!bytes.contains(&b'\n'), "an entry is one line");
    }
}

#[test]
fn the_encoding_is_sorted_compact_json_as_documented() {
    let entry = Entry::new(
        1,
        "cbs",
        Event::KeyRecorded(KeyRef {
            purpose: "hash".into(),
            version: 1,
        }),
    );
    assert_eq!(
        String::from_utf8(encode(&entry).unwrap()).unwrap(),
        r#"{"actor":"cbs","at_ms":1,"event":{"kind":"key.recorded","purpose":"hash","version":1},"v":1}"#
    );
}

#[test]
fn bytes_that_are_not_the_canonical_encoding_are_refused() {
    let canonical =
        r#"{"actor":"cbs","at_ms":1,"event":{"kind":"server.started","version":"1"},"v":1}"#;
    assert!(decode(canonical.as_bytes()).is_ok());
    for other in [
        r#"{"actor":"cbs", "at_ms":1,"event":{"kind":"server.started","version":"1"},"v":1}"#,
        r#"{"at_ms":1,"actor":"cbs","event":{"kind":"server.started","version":"1"},"v":1}"#,
        r#"{"actor":"cbs","at_ms":1,"event":{"version":"1","kind":"server.started"},"v":1}"#,
        r#"{"actor":"c\u0062s","at_ms":1,"event":{"kind":"server.started","version":"1"},"v":1}"#,
    ] {
        assert!(
            matches!(decode(other.as_bytes()), Err(EntryError::NotCanonical)),
            "{other}"
        );
    }
    let unknown_field = r#"{"actor":"cbs","at_ms":1,"bsn":"1","event":{"kind":"server.started","version":"1"},"v":1}"#;
    assert!(matches!(
        decode(unknown_field.as_bytes()),
        Err(EntryError::Decode(_))
    ));
    let unknown_kind = r#"{"actor":"cbs","at_ms":1,"event":{"kind":"table.leaked"},"v":1}"#;
    assert!(matches!(
        decode(unknown_kind.as_bytes()),
        Err(EntryError::Decode(_))
    ));
    let future =
        r#"{"actor":"cbs","at_ms":1,"event":{"kind":"server.started","version":"1"},"v":2}"#;
    assert!(matches!(
        decode(future.as_bytes()),
        Err(EntryError::Version(2))
    ));
    assert!(matches!(decode(b"null"), Err(EntryError::Decode(_))));
}

#[test]
fn datasets_projects_and_releases_are_read_from_the_event() {
    let samples = samples();
    let find = |kind: &str| samples.iter().find(|e| e.event.kind() == kind).unwrap();
    assert_eq!(find("upload.broken").event.datasets(), ["duo.leerlingen"]);
    assert_eq!(
        find("linkage.released").event.datasets(),
        ["cbs.personen", "duo.leerlingen"]
    );
    assert_eq!(
        find("table.refused").event.project(),
        Some("gelijke-kansen")
    );
    assert_eq!(find("table.released").event.release(), Some(2));
    assert_eq!(find("key.rotated").event.datasets(), Vec::<&str>::new());
    assert_eq!(find("project.changed").event.datasets(), ["duo.leerlingen"]);
    assert_eq!(
        find("project.dataset_approved").event.project(),
        Some("gelijke-kansen")
    );
    assert_eq!(
        find("linkage.released").event.project(),
        Some("gelijke-kansen")
    );
}

#[test]
fn a_linkage_entry_written_before_projects_still_decodes_as_written() {
    let old = br#"{"actor":"development","at_ms":1,"event":{"datasets":["a.b"],"kind":"linkage.released","release":1,"released":1,"withheld":0},"v":1}"#;
    let entry = decode(old).unwrap();
    assert_eq!(entry.event.project(), None);
    assert_eq!(encode(&entry).unwrap(), old.to_vec());
}
