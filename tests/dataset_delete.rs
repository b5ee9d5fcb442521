//! `ddc dataset delete`: the holder removes a dataset, and no byte of its
//! rows is left in the data directory (checked byte by byte, with a
//! positive control first), while the release records that used it keep
//! their request and cells, and the deletion is audited.

mod common;

use std::path::Path;

use common::{bsns, db_scalar, TestServer};
use ddc::proto;

/// Open-column labels and integers no other data holds.
fn labels() -> Vec<String> {
    (0..12).map(|i| format!("Qzxwplaats{i:02}")).collect()
}

fn numbers() -> Vec<i64> {
    (0..12).map(|i| 918_273_645 + i).collect()
}

/// Which of `needles` occur in any file under `dir`.
fn found_in(dir: &Path, needles: &[Vec<u8>]) -> usize {
    let mut found = vec![false; needles.len()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for (i, n) in needles.iter().enumerate() {
            found[i] |= bytes.windows(n.len()).any(|w| w == n.as_slice());
        }
    }
    found.iter().filter(|f| **f).count()
}

/// The labels, and each column chunk of `dataset` as stored (packed, so
/// not its values' own bytes) that no other dataset also holds: the person
/// numbers of two datasets of the same persons are the same chunk.
fn needles(dir: &Path, dataset: &str) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(dir.join(ddc::store::DB_FILE)).unwrap();
    let chunks = |sql: &str| -> Vec<(i64, Vec<u8>)> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([dataset], |r| Ok((r.get(0)?, r.get(1)?)));
        rows.unwrap().map(Result::unwrap).collect()
    };
    let select = "SELECT c.column_index, c.data FROM column_chunks c
                  JOIN datasets d ON d.id = c.dataset WHERE d.name";
    let mine = chunks(&format!("{select} = ?1"));
    let others: Vec<Vec<u8>> = chunks(&format!("{select} <> ?1"))
        .into_iter()
        .map(|c| c.1)
        .collect();
    let own: Vec<(i64, Vec<u8>)> = mine
        .into_iter()
        .filter(|c| !others.contains(&c.1))
        .collect();
    // At least the integer column `n` (index 2), whose values no other
    // dataset has.
    assert!(
        own.iter().any(|c| c.0 == 2),
        "the integer column is a needle"
    );
    let mut n: Vec<Vec<u8>> = labels().into_iter().map(String::into_bytes).collect();
    n.extend(own.into_iter().map(|c| c.1));
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_dataset_leaves_no_byte_of_its_rows_and_keeps_the_releases() {
    let mut s = TestServer::start().await;
    s.create("cbs.weg", "bsn", &["g:cat:a,b", "plaats:open", "n:int"])
        .await;
    s.create("cbs.blijft", "bsn", &["g:cat:a,b"]).await;
    let ids = bsns(240);
    let (labels, numbers) = (labels(), numbers());
    let rows: String = ids
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let g = if i % 2 == 0 { "a" } else { "b" };
            format!("{b},{g},{},{}\n", labels[i % 12], numbers[i % 12])
        })
        .collect();
    s.upload("cbs.weg", &format!("bsn,g,plaats,n\n{rows}"))
        .await
        .unwrap();
    let kept: String = ids.iter().map(|b| format!("{b},a\n")).collect();
    s.upload("cbs.blijft", &format!("bsn,g\n{kept}"))
        .await
        .unwrap();
    s.clients
        .projects
        .create_project(proto::CreateProjectRequest {
            name: "onderzoek".into(),
            purpose: "a study".into(),
            datasets: vec!["cbs.weg".into(), "cbs.blijft".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let table = s
        .table(common::table_request(&["cbs.weg.g"], &[]))
        .await
        .unwrap();
    let before = s
        .clients
        .audit
        .get_release(proto::GetReleaseRequest { id: table.release })
        .await
        .unwrap()
        .into_inner();

    // Positive control: the rows are on disk before the deletion.
    let mut s = s.restart().await;
    let needles = needles(s.data_dir.path(), "cbs.weg");
    assert_eq!(found_in(s.data_dir.path(), &needles), needles.len());

    // The CLI asks for confirmation, then deletes.
    let out = common::ddc_cli(&["dataset", "delete", "cbs.weg", "--server", &s.url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(
        s.version("cbs.weg").await,
        1,
        "nothing deleted without --yes"
    );
    let out = common::ddc_cli(&["dataset", "delete", "cbs.weg", "--yes", "--server", &s.url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("deleted cbs.weg with its 240 rows; taken out of project(s) onderzoek"),
        "{said}"
    );

    // Gone from memory, while the server runs, and from every file.
    let e = s
        .clients
        .ingest
        .get_dataset(proto::GetDatasetRequest {
            name: "cbs.weg".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert_eq!(found_in(s.data_dir.path(), &needles), 0, "while serving");
    let projects = s
        .clients
        .projects
        .list_projects(proto::ListProjectsRequest {})
        .await
        .unwrap()
        .into_inner()
        .projects;
    let left: Vec<&str> = projects[0]
        .datasets
        .iter()
        .map(|d| d.dataset.as_str())
        .collect();
    assert_eq!(left, ["cbs.blijft"]);
    // The release record is as it was; the other dataset still serves.
    let after = s
        .clients
        .audit
        .get_release(proto::GetReleaseRequest { id: table.release })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.request_json, before.request_json);
    assert_eq!(after.cells_json, before.cells_json);
    s.table(common::table_request(&["cbs.blijft.g"], &[]))
        .await
        .unwrap();
    let (data, keys) = s.stop().await;
    assert_eq!(found_in(data.path(), &needles), 0, "after the stop");
    let deleted = db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'dataset.deleted' \
         AND json_extract(CAST(entry AS TEXT), '$.event.rows') = 240",
    );
    assert_eq!(deleted, 1, "the deletion is audited");

    // After a restart the name is free again.
    let mut s = TestServer::start_in(data, keys).await;
    s.create("cbs.weg", "bsn", &["g:cat:a,b"]).await;
    assert_eq!(s.version("cbs.weg").await, 0);
    s.stop().await;
}
