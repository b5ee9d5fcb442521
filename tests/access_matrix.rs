//! Every role against every RPC, over mutual TLS, from one table: what is
//! not allowed is answered PERMISSION_DENIED and logged as `access.denied`;
//! what is allowed is never denied. The table must name every method the
//! API declares, so a new RPC cannot be forgotten.

mod common;

use std::collections::BTreeSet;

use common::pki::{
    approve, create_project, dataset_with_data, declaration, https, list, tls_server, Pki,
};
use ddc::auth::Role;
use ddc::client::Clients;
use ddc::pki::Validity;
use ddc::proto::{self, ListDatasetsRequest};
use prost::Message;
use tonic::{Code, Status};

/// Who may call what: provider (of cbs), analyst, auditor, administrator, probe.
const MATRIX: &[(&str, [bool; 5])] = &[
    (
        "ddc.v1.Ingest/CreateDataset",
        [true, false, false, false, false],
    ),
    (
        "ddc.v1.Ingest/ListDatasets",
        [true, true, false, false, false],
    ),
    (
        "ddc.v1.Ingest/GetDataset",
        [true, true, false, false, false],
    ),
    ("ddc.v1.Ingest/Upload", [true, false, false, false, false]),
    (
        "ddc.v1.Ingest/DeleteDataset",
        [true, false, false, false, false],
    ),
    (
        "ddc.v1.Classifications/CreateCodeList",
        [true, false, false, true, false],
    ),
    (
        "ddc.v1.Classifications/ListCodeLists",
        [true, true, false, true, false],
    ),
    (
        "ddc.v1.Classifications/GetCodeList",
        [true, true, false, true, false],
    ),
    (
        "ddc.v1.Release/Tabulate",
        [false, true, false, false, false],
    ),
    ("ddc.v1.Release/Linkage", [false, true, false, false, false]),
    (
        "ddc.v1.Audit/ListEntries",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/FollowEntries",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/GetCheckpoint",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/GetInclusionProof",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/GetConsistencyProof",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/ListReleases",
        [true, false, true, false, false],
    ),
    (
        "ddc.v1.Audit/GetRelease",
        [false, false, true, false, false],
    ),
    (
        "ddc.v1.Projects/CreateProject",
        [false, false, false, true, false],
    ),
    (
        "ddc.v1.Projects/ChangeProject",
        [false, false, false, true, false],
    ),
    (
        "ddc.v1.Projects/ApproveDataset",
        [true, false, false, false, false],
    ),
    (
        "ddc.v1.Projects/WithdrawApproval",
        [true, false, false, false, false],
    ),
    // After the approvals: it closes the project they change.
    (
        "ddc.v1.Projects/CloseProject",
        [false, false, false, true, false],
    ),
    (
        "ddc.v1.Projects/ListProjects",
        [true, true, false, true, false],
    ),
    ("ddc.v1.Admin/KeyStatus", [false, false, false, true, false]),
    (
        "ddc.v1.Admin/RotateStorageKey",
        [false, false, false, true, false],
    ),
];

const ROLES: [Role; 5] = [
    Role::Provider,
    Role::Analyst,
    Role::Auditor,
    Role::Administrator,
    Role::Probe,
];

#[test]
fn the_matrix_names_every_method_of_the_api() {
    let set = prost_types::FileDescriptorSet::decode(ddc::proto::FILE_DESCRIPTOR_SET).unwrap();
    let declared: BTreeSet<String> = set
        .file
        .iter()
        .filter(|f| f.package() == "ddc.v1")
        .flat_map(|f| {
            f.service.iter().flat_map(|s| {
                s.method
                    .iter()
                    .map(move |m| format!("ddc.v1.{}/{}", s.name(), m.name()))
            })
        })
        .collect();
    let tabled: BTreeSet<String> = MATRIX.iter().map(|(m, _)| m.to_string()).collect();
    assert_eq!(declared, tabled);
}

/// Calls `method` with a request that would otherwise succeed or fail on
/// its own merits; returns the status, if any.
async fn call(c: &mut Clients, method: &str) -> Result<(), Status> {
    let name = method.rsplit('/').next().unwrap();
    match name {
        "CreateDataset" => c
            .ingest
            .create_dataset(proto::CreateDatasetRequest {
                name: format!("cbs.m{}", rand_suffix()),
                organisation: "cbs".into(),
                schema: Some(proto::Schema {
                    identifier_column: "bsn".into(),
                    columns: vec![ddc::cli::parse_column_spec("g:cat:a").unwrap()],
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        "ListDatasets" => c
            .ingest
            .list_datasets(ListDatasetsRequest {})
            .await
            .map(drop),
        "GetDataset" => c
            .ingest
            .get_dataset(proto::GetDatasetRequest {
                name: "cbs.p".into(),
            })
            .await
            .map(drop),
        "Upload" => {
            let file: String = common::bsns(30)
                .iter()
                .map(|b| format!("{b},a\n"))
                .collect();
            let header = proto::UploadHeader {
                dataset: "cbs.p".into(),
                replace: true,
                upload_id: ddc::client::new_upload_id(),
                ..Default::default()
            };
            let body = std::io::Cursor::new(format!("bsn,g\n{file}").into_bytes());
            ddc::client::upload(&mut c.ingest, header, body, |_| {})
                .await
                .map(drop)
        }
        "DeleteDataset" => c
            .ingest
            .delete_dataset(proto::DeleteDatasetRequest {
                name: "cbs.gone".into(),
            })
            .await
            .map(drop),
        "CreateCodeList" => c
            .classifications
            .create_code_list(proto::CreateCodeListRequest {
                name: "kleur".into(),
                codes: vec![proto::Code {
                    code: "rood".into(),
                    label: "Rood".into(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .await
            .map(drop),
        "ListCodeLists" => c
            .classifications
            .list_code_lists(proto::ListCodeListsRequest {})
            .await
            .map(drop),
        "GetCodeList" => c
            .classifications
            .get_code_list(proto::GetCodeListRequest {
                name: "kleur".into(),
                version: 0,
            })
            .await
            .map(drop),
        "Tabulate" => c
            .release
            .tabulate(proto::TableRequest {
                project: "p".into(),
                ..common::table_request(&["cbs.p.g"], &[])
            })
            .await
            .map(drop),
        "Linkage" => c
            .release
            .linkage(proto::LinkageRequest {
                project: "p".into(),
                datasets: vec![],
            })
            .await
            .map(drop),
        "CreateProject" => create_project(c, &format!("m{}", rand_suffix()), &[], &[])
            .await
            .map(drop),
        "ChangeProject" => c
            .projects
            .change_project(proto::ChangeProjectRequest {
                name: "q".into(),
                add_members: vec!["ocw/analyst/other".into()],
                ..Default::default()
            })
            .await
            .map(drop),
        "ApproveDataset" => approve(c, "q", "cbs.p").await.map(drop),
        "WithdrawApproval" => c
            .projects
            .withdraw_approval(proto::ApprovalRequest {
                project: "q".into(),
                dataset: "cbs.p".into(),
            })
            .await
            .map(drop),
        "CloseProject" => c
            .projects
            .close_project(proto::CloseProjectRequest { name: "q".into() })
            .await
            .map(drop),
        "ListProjects" => c
            .projects
            .list_projects(proto::ListProjectsRequest {})
            .await
            .map(drop),
        "ListEntries" => c
            .audit
            .list_entries(proto::ListEntriesRequest::default())
            .await
            .map(drop),
        "FollowEntries" => c
            .audit
            .follow_entries(proto::FollowEntriesRequest { from_index: 0 })
            .await
            .map(drop),
        "GetCheckpoint" => c
            .audit
            .get_checkpoint(proto::GetCheckpointRequest {})
            .await
            .map(drop),
        "GetInclusionProof" => c
            .audit
            .get_inclusion_proof(proto::InclusionProofRequest {
                index: 0,
                tree_size: 1,
            })
            .await
            .map(drop),
        "GetConsistencyProof" => c
            .audit
            .get_consistency_proof(proto::ConsistencyProofRequest {
                old_size: 1,
                new_size: 1,
            })
            .await
            .map(drop),
        "ListReleases" => c
            .audit
            .list_releases(proto::ListReleasesRequest {
                dataset: "cbs.p".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "GetRelease" => c
            .audit
            .get_release(proto::GetReleaseRequest { id: 1 })
            .await
            .map(drop),
        "KeyStatus" => c
            .admin
            .key_status(proto::KeyStatusRequest {})
            .await
            .map(drop),
        "RotateStorageKey" => c
            .admin
            .rotate_storage_key(proto::RotateStorageKeyRequest {})
            .await
            .map(drop),
        other => panic!("no call for {other}: add it here and to MATRIX"),
    }
}

fn rand_suffix() -> String {
    ddc::client::new_upload_id()[..8].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_is_allowed_what_the_matrix_says_and_denied_the_rest() {
    let mut pki = Pki::new();
    let (server, data, _keys) = tls_server(&mut pki, &[]).await;
    let url = https(&server);
    let mut clients = Vec::new();
    for role in ROLES {
        let org = if role == Role::Provider { "cbs" } else { "ocw" };
        let (tls, _) = pki.client(role.as_str(), org, role, Validity::default());
        list(&url, &tls).await.ok();
        clients.push(ddc::client::connect_tls(&url, &tls).await.unwrap());
    }
    // The cbs provider's dataset, with data, for the calls above.
    let provider = &mut clients[0];
    call(provider, "ddc.v1.Ingest/CreateDataset").await.unwrap();
    provider
        .ingest
        .create_dataset(declaration("cbs.p", "cbs", "a"))
        .await
        .unwrap();
    call(provider, "ddc.v1.Ingest/Upload").await.unwrap();
    // The provider deletes it first; every other role is denied after.
    provider
        .ingest
        .create_dataset(declaration("cbs.gone", "cbs", "a"))
        .await
        .unwrap();
    // Project p (cbs.p approved, the analyst a member) for the tables;
    // project q for the calls that change and close a project.
    let analyst = "ocw/analyst/analyst";
    create_project(&mut clients[3], "p", &["cbs.p"], &[analyst])
        .await
        .unwrap();
    create_project(&mut clients[3], "q", &["cbs.p"], &[])
        .await
        .unwrap();
    approve(&mut clients[0], "p", "cbs.p").await.unwrap();
    let denied_before = common::db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'access.denied'",
    );

    let mut denials = 0;
    for (method, allowed) in MATRIX {
        for (i, role) in ROLES.iter().enumerate() {
            let got = call(&mut clients[i], method).await;
            let denied = matches!(&got, Err(s) if s.code() == Code::PermissionDenied);
            assert_eq!(
                denied,
                !allowed[i],
                "{method} as {}: {got:?}",
                role.as_str()
            );
            if let Err(s) = &got {
                assert_ne!(s.code(), Code::Unauthenticated, "{method}: {s:?}");
            }
            denials += usize::from(denied);
        }
    }
    server.stop().await.unwrap();
    let logged = common::db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'access.denied'",
    );
    assert_eq!(
        logged - denied_before,
        denials as i64,
        "every denial is in the log"
    );
    let named = common::db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'access.denied' AND actor = 'ocw/administrator/administrator' \
         AND json_extract(CAST(entry AS TEXT), '$.event.method') = 'tabulate'",
    );
    assert_eq!(
        named, 1,
        "an administrator's table request is denied and logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_cannot_touch_or_see_another_organisations_data() {
    let mut pki = Pki::new();
    let (server, _data, _keys) = tls_server(&mut pki, &[]).await;
    let url = https(&server);
    let (cbs_tls, _) = pki.client("cbs", "cbs", Role::Provider, Validity::default());
    let (duo_tls, _) = pki.client("duo", "duo", Role::Provider, Validity::default());
    list(&url, &cbs_tls).await.ok();
    let mut cbs = ddc::client::connect_tls(&url, &cbs_tls).await.unwrap();
    let mut duo = ddc::client::connect_tls(&url, &duo_tls).await.unwrap();
    call(&mut cbs, "ddc.v1.Ingest/CreateDataset").await.unwrap();
    cbs.ingest
        .create_dataset(declaration("cbs.p", "cbs", "a"))
        .await
        .unwrap();
    // duo cannot declare for cbs, upload into or read cbs's dataset, or
    // see it listed, or list its releases.
    let e = duo
        .ingest
        .create_dataset(declaration("cbs.q", "cbs", "a"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    for method in [
        "ddc.v1.Ingest/Upload",
        "ddc.v1.Ingest/GetDataset",
        "ddc.v1.Audit/ListReleases",
    ] {
        let e = call(&mut duo, method).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{method}");
    }
    let listed = duo
        .ingest
        .list_datasets(ListDatasetsRequest {})
        .await
        .unwrap();
    assert!(
        listed.into_inner().datasets.is_empty(),
        "duo sees none of cbs's datasets"
    );
    let listed = cbs
        .ingest
        .list_datasets(ListDatasetsRequest {})
        .await
        .unwrap();
    assert_eq!(listed.into_inner().datasets.len(), 2);
    // An unknown dataset is denied like another's: its existence is not told.
    let e = duo
        .ingest
        .get_dataset(proto::GetDatasetRequest {
            name: "nobody.x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_sees_the_releases_that_used_its_data_and_no_others() {
    let mut pki = Pki::new();
    let (server, _data, _keys) = tls_server(&mut pki, &[]).await;
    let url = https(&server);
    let mut connect = |name: &str, org: &str, role: Role| {
        let (tls, _) = pki.client(name, org, role, Validity::default());
        tls
    };
    let (cbs_tls, duo_tls, analyst_tls, admin_tls) = (
        connect("cbs", "cbs", Role::Provider),
        connect("duo", "duo", Role::Provider),
        connect("ana", "ocw", Role::Analyst),
        connect("adm", "ocw", Role::Administrator),
    );
    list(&url, &cbs_tls).await.ok();
    let mut cbs = ddc::client::connect_tls(&url, &cbs_tls).await.unwrap();
    let mut duo = ddc::client::connect_tls(&url, &duo_tls).await.unwrap();
    let mut analyst = ddc::client::connect_tls(&url, &analyst_tls).await.unwrap();
    let mut admin = ddc::client::connect_tls(&url, &admin_tls).await.unwrap();
    let ids = common::bsns(40);
    dataset_with_data(&mut cbs, "cbs.p", "cbs", &ids).await;
    dataset_with_data(&mut duo, "duo.q", "duo", &ids).await;
    let member = "ocw/analyst/ana";
    create_project(&mut admin, "kansen", &["cbs.p", "duo.q"], &[member])
        .await
        .unwrap();
    approve(&mut cbs, "kansen", "cbs.p").await.unwrap();
    approve(&mut duo, "kansen", "duo.q").await.unwrap();
    // Two tables: one over cbs.p alone, one over duo.q alone.
    for by in ["cbs.p.g", "duo.q.g"] {
        analyst
            .release
            .tabulate(proto::TableRequest {
                project: "kansen".into(),
                ..common::table_request(&[by], &[])
            })
            .await
            .unwrap();
    }
    let releases = |c: &mut Clients, dataset: &str| {
        let mut audit = c.audit.clone();
        let dataset = dataset.to_owned();
        async move {
            audit
                .list_releases(proto::ListReleasesRequest {
                    dataset,
                    ..Default::default()
                })
                .await
        }
    };
    let mine = releases(&mut cbs, "cbs.p")
        .await
        .unwrap()
        .into_inner()
        .releases;
    assert_eq!(mine.len(), 1, "cbs sees the table over its data");
    assert_eq!(mine[0].datasets, ["cbs.p"]);
    assert_eq!(mine[0].project, "kansen");
    assert!(mine[0].cells > 0);
    // What it was used for: the request, naming cbs.p's column, no cells.
    let request: serde_json::Value = serde_json::from_str(&mine[0].request_json).unwrap();
    assert_eq!(request["group_by"], serde_json::json!(["cbs.p.g"]));
    assert_eq!(request["project"], "kansen");
    let theirs = releases(&mut cbs, "duo.q").await.unwrap_err();
    assert_eq!(theirs.code(), Code::PermissionDenied, "not duo's releases");
    let all = releases(&mut cbs, "").await.unwrap_err();
    assert_eq!(all.code(), Code::PermissionDenied, "not every release");
    server.stop().await.unwrap();
}
