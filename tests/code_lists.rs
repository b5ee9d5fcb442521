//! Code lists as first-class objects: published and versioned over gRPC,
//! audited, pinned by the datasets declared on them, enforced on upload
//! (codes and the agreement of dependent columns), kept across restarts.

mod common;

use common::{bsns, db_persons, db_rows, db_scalar, exact_policy, said, TestServer};
use ddc::proto::{self, CreateCodeListRequest, GetCodeListRequest};
use tonic::Code;
use tonic_types::StatusExt;

const SECTOR: &str = "onderwijssector";
const NIVEAU: &str = "onderwijsniveau";
const DS: &str = "duo.leerlingen";

fn code(code: &str, label: &str, parent: &str) -> proto::Code {
    proto::Code {
        code: code.into(),
        label: label.into(),
        label_en: String::new(),
        parent: parent.into(),
    }
}

fn sector_request() -> CreateCodeListRequest {
    CreateCodeListRequest {
        name: SECTOR.into(),
        parent: String::new(),
        codes: vec![
            code("po", "Primair onderwijs", ""),
            code("vo", "Voortgezet onderwijs", ""),
        ],
    }
}

fn niveau_request() -> CreateCodeListRequest {
    CreateCodeListRequest {
        name: NIVEAU.into(),
        parent: SECTOR.into(),
        codes: vec![
            code("groep8", "Groep 8", "po"),
            code("vmbo", "Vmbo", "vo"),
            code("havo", "Havo", "vo"),
            code("vwo", "Vwo", "vo"),
        ],
    }
}

async fn publish(
    s: &mut TestServer,
    request: CreateCodeListRequest,
) -> Result<proto::CodeList, tonic::Status> {
    (s.clients.classifications.create_code_list(request).await).map(|r| r.into_inner())
}

async fn get(
    s: &mut TestServer,
    name: &str,
    version: u32,
) -> Result<proto::CodeList, tonic::Status> {
    let request = GetCodeListRequest {
        name: name.into(),
        version,
    };
    (s.clients.classifications.get_code_list(request).await).map(|r| r.into_inner())
}

/// A server with both lists and the dataset `duo.leerlingen (pgn, sector, niveau)`.
async fn education_server() -> TestServer {
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    publish(&mut s, sector_request()).await.unwrap();
    publish(&mut s, niveau_request()).await.unwrap();
    s.create(
        DS,
        "pgn",
        &["sector:list:onderwijssector", "niveau:list:onderwijsniveau"],
    )
    .await;
    s
}

fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    (status.get_details_bad_request())
        .map(|b| {
            (b.field_violations.into_iter())
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().expect("error info").reason
}

fn audited(s: &TestServer, action: &str) -> i64 {
    db_scalar(
        s.data_dir.path(),
        &format!("SELECT count(*) FROM audit_log WHERE kind = '{action}'"),
    )
}

/// Asserts the dataset holds nothing at all.
async fn assert_nothing_stored(s: &mut TestServer) {
    assert_eq!(s.version(DS).await, 0);
    assert_eq!(db_persons(s.data_dir.path()), 0);
    assert_eq!(db_rows(s.data_dir.path()), 0);
}

fn rows(pairs: &[(&str, &str)]) -> String {
    let ids = bsns(pairs.len());
    let body: String = (ids.iter().zip(pairs))
        .map(|(id, (sector, niveau))| format!("{id},{sector},{niveau}\n"))
        .collect();
    format!("pgn,sector,niveau\n{body}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_lists_are_published_listed_and_read_with_their_parents() {
    let mut s = TestServer::start().await;
    let sector = publish(&mut s, sector_request()).await.unwrap();
    assert_eq!((sector.name.as_str(), sector.version), (SECTOR, 1));
    assert_eq!((sector.parent.as_str(), sector.parent_version), ("", 0));
    let niveau = publish(&mut s, niveau_request()).await.unwrap();
    assert_eq!((niveau.parent.as_str(), niveau.parent_version), (SECTOR, 1));
    assert_eq!(niveau.codes, niveau_request().codes);

    let listed = (s.clients.classifications)
        .list_code_lists(proto::ListCodeListsRequest {})
        .await
        .unwrap()
        .into_inner()
        .code_lists;
    let names: Vec<_> = listed
        .iter()
        .map(|l| (l.name.as_str(), l.codes.len()))
        .collect();
    assert_eq!(names, [(NIVEAU, 4), (SECTOR, 2)]);

    assert_eq!(get(&mut s, NIVEAU, 0).await.unwrap(), niveau);
    assert_eq!(get(&mut s, NIVEAU, 1).await.unwrap(), niveau);
    let missing = get(&mut s, "geheim_lijst", 0).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "CODE_LIST_NOT_FOUND");
    let info = missing.get_details_error_info().unwrap();
    assert_eq!(info.metadata.get("field").map(String::as_str), Some("name"));
    assert!(
        !said(&missing).contains("geheim_lijst"),
        "{}",
        said(&missing)
    );
    let no_version = get(&mut s, NIVEAU, 7).await.unwrap_err();
    assert_eq!(no_version.code(), Code::NotFound);
    let info = no_version.get_details_error_info().unwrap();
    assert_eq!(
        info.metadata.get("field").map(String::as_str),
        Some("version")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_list_is_a_new_version_an_equal_one_is_unchanged_and_both_are_audited() {
    let mut s = TestServer::start().await;
    publish(&mut s, sector_request()).await.unwrap();
    let again = publish(&mut s, sector_request()).await.unwrap();
    assert_eq!(again.version, 1, "the same content is the same version");
    let stored = |s: &TestServer| db_scalar(s.data_dir.path(), "SELECT count(*) FROM code_lists");
    assert_eq!(stored(&s), 1, "an unchanged list stores nothing");

    let mut changed = sector_request();
    changed
        .codes
        .push(code("mbo", "Middelbaar beroepsonderwijs", ""));
    let v2 = publish(&mut s, changed).await.unwrap();
    assert_eq!((v2.version, v2.codes.len()), (2, 3));
    assert_eq!(stored(&s), 2);
    assert_eq!(get(&mut s, SECTOR, 1).await.unwrap().codes.len(), 2);
    assert_eq!(get(&mut s, SECTOR, 0).await.unwrap().version, 2);

    assert_eq!(audited(&s, "code_list.created"), 2);
    assert_eq!(audited(&s, "code_list.unchanged"), 1);
    let detail = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'code_list.created' \
         AND json_extract(CAST(entry AS TEXT), '$.event.name') = 'onderwijssector' \
         AND json_extract(CAST(entry AS TEXT), '$.event.version') = 2 \
         AND json_extract(CAST(entry AS TEXT), '$.event.codes') = 3",
    );
    assert_eq!(detail, 1, "the log records name, version and size");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_drafts_name_the_fields_at_fault_and_never_echo_a_value() {
    let mut s = TestServer::start().await;
    publish(&mut s, sector_request()).await.unwrap();
    let request = CreateCodeListRequest {
        name: "Geheim Naam".into(),
        parent: String::new(),
        codes: vec![
            code("geheim1", "Een", ""),
            code("geheim1", "Twee", ""),
            code("geheim2", "", ""),
            code("geheim3", "Drie", "geheimouder"),
        ],
    };
    let status = publish(&mut s, request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "INVALID_CODE_LIST");
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        ["name", "codes[1].code", "codes[2].label", "codes[3].parent"]
    );
    let text = said(&status);
    assert!(
        !text.contains("geheim") && !text.contains("Geheim"),
        "{text}"
    );

    let mut orphan = niveau_request();
    orphan.parent = "geheim_ouder".into();
    let status = publish(&mut s, orphan).await.unwrap_err();
    assert_eq!(violations(&status)[0].0, "parent");
    assert!(!said(&status).contains("geheim_ouder"), "{}", said(&status));

    let mut stray = niveau_request();
    stray.codes[2].parent = "geheim_sector".into();
    let status = publish(&mut s, stray).await.unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["codes[2].parent"]);
    assert!(
        !said(&status).contains("geheim_sector"),
        "{}",
        said(&status)
    );

    assert_eq!(
        db_scalar(s.data_dir.path(), "SELECT count(*) FROM code_lists"),
        1
    );
    assert_eq!(audited(&s, "code_list.refused"), 3);
    let leaked = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE CAST(entry AS TEXT) LIKE '%geheim%'",
    );
    assert_eq!(leaked, 0, "the audit trail names fields, not values");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_on_a_code_list_is_pinned_to_its_latest_version() {
    let mut s = TestServer::start().await;
    publish(&mut s, sector_request()).await.unwrap();
    let mut changed = sector_request();
    changed.codes[0].label = "Basisonderwijs".into();
    assert_eq!(publish(&mut s, changed).await.unwrap().version, 2);
    let d = s
        .try_create(DS, "pgn", &["sector:list:onderwijssector"])
        .await
        .unwrap();
    let pinned = |d: &proto::Dataset| match &d.schema.as_ref().unwrap().columns[0].kind {
        Some(proto::column::Kind::Categorical(c)) => (c.code_list.clone(), c.code_list_version),
        other => panic!("not categorical: {other:?}"),
    };
    assert_eq!(pinned(&d), (SECTOR.to_owned(), 2));
    let shown = (s.clients.ingest)
        .get_dataset(proto::GetDatasetRequest { name: DS.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pinned(&shown), (SECTOR.to_owned(), 2));

    let status = s
        .try_create("duo.ander", "pgn", &["x:int", "y:list:geheime_lijst"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "CODE_LIST_NOT_FOUND");
    let info = status.get_details_error_info().unwrap();
    assert_eq!(
        info.metadata.get("field").map(String::as_str),
        Some("schema.columns[1].categorical.code_list")
    );
    assert!(
        !said(&status).contains("geheime_lijst"),
        "{}",
        said(&status)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_a_code_not_in_the_list_is_rejected_and_stores_nothing() {
    let mut s = education_server().await;
    let csv = rows(&[("vo", "havo"), ("vo", "mavo"), ("po", "groep8")]);
    let status = s.upload(DS, &csv).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "INVALID_ROWS");
    let v = violations(&status);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].0, "rows[2].niveau");
    assert!(
        v[0].1
            .contains("not one of the 4 codes of code list `onderwijsniveau`"),
        "{}",
        v[0].1
    );
    assert!(!said(&status).contains("mavo"), "{}", said(&status));
    assert_nothing_stored(&mut s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_outside_its_sector_is_rejected_naming_row_and_column_and_stores_nothing() {
    let mut s = education_server().await;
    let csv = rows(&[
        ("vo", "havo"),
        ("vo", "vwo"),
        ("po", "havo"),
        ("po", "groep8"),
    ]);
    let status = s.upload(DS, &csv).await.unwrap_err();
    assert_eq!(reason(&status), "INVALID_ROWS");
    let v = violations(&status);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].0, "rows[3].niveau");
    assert!(
        v[0].1.contains("`niveau`") && v[0].1.contains("`sector`"),
        "{}",
        v[0].1
    );
    let text = said(&status);
    assert!(!text.contains("havo") && !text.contains("groep8"), "{text}");
    assert_nothing_stored(&mut s).await;

    // With skip_invalid the row that disagrees is left out, the rest stored.
    let receipt = s.upload_with(DS, &csv, true, false).await.unwrap();
    assert_eq!((receipt.rows_stored, receipt.rows_rejected), (3, 1));
    assert_eq!(receipt.problems[0].row, 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_lists_and_classified_columns_survive_a_restart() {
    let mut s = education_server().await;
    let csv = rows(&[("vo", "havo"), ("po", "groep8")]);
    s.upload(DS, &csv).await.unwrap();
    let mut s = s.restart().await;

    let niveau = get(&mut s, NIVEAU, 0).await.unwrap();
    assert_eq!((niveau.version, niveau.parent_version), (1, 1));
    assert_eq!(niveau.codes, niveau_request().codes);
    assert_eq!(s.version(DS).await, 1);
    // The reloaded columns still check codes and sectors against the lists.
    let bad = rows(&[("vo", "mavo")]);
    let status = s.upload_with(DS, &bad, false, true).await.unwrap_err();
    assert_eq!(violations(&status)[0].0, "rows[1].niveau");
    let disagree = rows(&[("po", "vwo")]);
    let status = s.upload_with(DS, &disagree, false, true).await.unwrap_err();
    assert_eq!(violations(&status)[0].0, "rows[1].niveau");
    let good = rows(&[("vo", "vwo"), ("vo", "vmbo"), ("po", "groep8")]);
    let receipt = s.upload_with(DS, &good, false, true).await.unwrap();
    assert_eq!((receipt.version, receipt.rows_stored), (2, 3));
    // A further version after the restart continues the numbering.
    let mut changed = niveau_request();
    changed.codes.pop();
    assert_eq!(publish(&mut s, changed).await.unwrap().version, 2);
    s.stop().await;
}
