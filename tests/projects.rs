//! Projects over mutual TLS: analysts ask only inside an open project they
//! are members of, over datasets their holders approved; every change is
//! audited and survives a restart; each role lists only its projects.

mod common;

use common::pki::{
    approve, create_project, dataset_with_data, https, list, tls_server, tls_server_in, Pki,
};
use ddc::auth::Role;
use ddc::client::Clients;
use ddc::pki::Validity;
use ddc::proto;
use ddc::server::LocalServer;
use tempfile::TempDir;
use tonic::Code;
use tonic_types::StatusExt;

const JANSEN: &str = "uva/analyst/jansen";

/// Clients of the cbs and duo providers, analysts jansen and pietersen,
/// and an administrator, on the TLS server at `url`.
struct Cast {
    cbs: Clients,
    duo: Clients,
    jansen: Clients,
    pietersen: Clients,
    admin: Clients,
}

async fn cast(pki: &mut Pki, url: &str) -> Cast {
    let mut tls =
        |name: &str, org: &str, role: Role| pki.client(name, org, role, Validity::default()).0;
    let all = [
        tls("cbs", "cbs", Role::Provider),
        tls("duo", "duo", Role::Provider),
        tls("jansen", "uva", Role::Analyst),
        tls("pietersen", "uva", Role::Analyst),
        tls("admin", "ocw", Role::Administrator),
    ];
    list(url, &all[0]).await.unwrap();
    let mut clients = Vec::new();
    for t in &all {
        clients.push(ddc::client::connect_tls(url, t).await.unwrap());
    }
    let [cbs, duo, jansen, pietersen, admin]: [Clients; 5] = clients.try_into().ok().unwrap();
    Cast {
        cbs,
        duo,
        jansen,
        pietersen,
        admin,
    }
}

/// Both datasets with data, and project `kansen` asking for both.
async fn setting(c: &mut Cast) {
    let ids = common::bsns(60);
    dataset_with_data(&mut c.cbs, "cbs.p", "cbs", &ids).await;
    dataset_with_data(&mut c.duo, "duo.q", "duo", &ids).await;
    create_project(&mut c.admin, "kansen", &["cbs.p", "duo.q"], &[JANSEN])
        .await
        .unwrap();
}

/// A TLS server with its PKI and directories, the cast, and the setting.
async fn started() -> (Pki, LocalServer, TempDir, TempDir, Cast) {
    let mut pki = Pki::new();
    let (server, data, keys) = tls_server(&mut pki, &[]).await;
    let mut c = cast(&mut pki, &https(&server)).await;
    setting(&mut c).await;
    (pki, server, data, keys, c)
}

async fn table(c: &mut Clients, project: &str, by: &[&str]) -> Result<(), tonic::Status> {
    c.release
        .tabulate(proto::TableRequest {
            project: project.into(),
            ..common::table_request(by, &[])
        })
        .await
        .map(drop)
}

fn denied(r: Result<(), tonic::Status>, why: &str) {
    let s = r.expect_err(why);
    assert_eq!(s.code(), Code::PermissionDenied, "{why}: {s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_asks_only_inside_its_open_project_over_approved_datasets() {
    let (_pki, server, data, _keys, mut c) = started().await;
    let joined = ["cbs.p.g", "duo.q.g"];

    denied(
        table(&mut c.jansen, "kansen", &["cbs.p.g"]).await,
        "before its holder approves",
    );
    approve(&mut c.cbs, "kansen", "cbs.p").await.unwrap();
    table(&mut c.jansen, "kansen", &["cbs.p.g"]).await.unwrap();
    denied(
        table(&mut c.jansen, "kansen", &joined).await,
        "duo.q awaits approval",
    );
    approve(&mut c.duo, "kansen", "duo.q").await.unwrap();
    table(&mut c.jansen, "kansen", &joined).await.unwrap();

    // Outside the project: another analyst, no project, another project,
    // a dataset the project does not ask for (denied, not NOT_FOUND).
    denied(
        table(&mut c.pietersen, "kansen", &["cbs.p.g"]).await,
        "not a member",
    );
    denied(table(&mut c.jansen, "", &["cbs.p.g"]).await, "no project");
    denied(
        table(&mut c.jansen, "elders", &["cbs.p.g"]).await,
        "no such project",
    );
    denied(
        table(&mut c.jansen, "kansen", &["nobody.x.g"]).await,
        "a dataset outside the project",
    );
    let joined_in = c
        .jansen
        .release
        .tabulate(proto::TableRequest {
            project: "kansen".into(),
            datasets: vec!["cbs.other".into()],
            ..common::table_request(&["cbs.p.g"], &[])
        })
        .await;
    denied(
        joined_in.map(drop),
        "a join with a dataset outside the project",
    );
    let linkage = c
        .pietersen
        .release
        .linkage(proto::LinkageRequest {
            project: "kansen".into(),
            datasets: vec![],
        })
        .await;
    denied(linkage.map(drop), "linkage figures outside the project");
    let linkage = c
        .jansen
        .release
        .linkage(proto::LinkageRequest {
            project: "kansen".into(),
            datasets: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let over: Vec<&str> = linkage
        .datasets
        .iter()
        .map(|d| d.dataset.as_str())
        .collect();
    assert_eq!(over, ["cbs.p", "duo.q"], "the project's approved datasets");

    // Reads follow the project: approved datasets only.
    let listed = c
        .pietersen
        .ingest
        .list_datasets(proto::ListDatasetsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.datasets.is_empty(), "pietersen is in no project");

    // A withdrawn approval, then a closed project, end the access.
    c.duo
        .projects
        .withdraw_approval(proto::ApprovalRequest {
            project: "kansen".into(),
            dataset: "duo.q".into(),
        })
        .await
        .unwrap();
    denied(
        table(&mut c.jansen, "kansen", &joined).await,
        "after duo withdrew",
    );
    table(&mut c.jansen, "kansen", &["cbs.p.g"]).await.unwrap();
    c.admin
        .projects
        .close_project(proto::CloseProjectRequest {
            name: "kansen".into(),
        })
        .await
        .unwrap();
    let closed = table(&mut c.jansen, "kansen", &["cbs.p.g"]).await;
    assert!(closed.as_ref().unwrap_err().message().contains("closed"));
    denied(closed, "after the project is closed");
    // An administrator cannot ask for a table either.
    denied(
        table(&mut c.admin, "kansen", &["cbs.p.g"]).await,
        "an administrator",
    );
    server.stop().await.unwrap();

    let count = |sql: &str| common::db_scalar(data.path(), sql);
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE kind = 'access.denied' \
             AND json_extract(CAST(entry AS TEXT), '$.event.method') = 'tabulate'"
        ),
        10,
        "every denied table is logged"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE kind = 'access.denied' AND actor = 'uva/analyst/jansen' \
             AND json_extract(CAST(entry AS TEXT), '$.event.reason') = 'the project is closed'"
        ),
        1
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM audit_log WHERE kind = 'table.released' AND project = 'kansen'"
        ),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_changes_are_checked_audited_and_survive_a_restart() {
    let (mut pki, server, data, keys, mut c) = started().await;

    // Only the holder approves; only what the project asks for.
    denied(
        approve(&mut c.duo, "kansen", "cbs.p").await.map(drop),
        "duo approving cbs's dataset",
    );
    c.cbs
        .ingest
        .create_dataset(common::pki::declaration("cbs.r", "cbs", "a"))
        .await
        .unwrap();
    let e = approve(&mut c.cbs, "kansen", "cbs.r").await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(
        e.get_details_error_info().unwrap().reason,
        "DATASET_NOT_IN_PROJECT"
    );
    let e = approve(&mut c.cbs, "elders", "cbs.p").await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let approved = approve(&mut c.cbs, "kansen", "cbs.p").await.unwrap();
    assert!(approved.log.is_some(), "the approval has its log receipt");
    let cbs = approved
        .datasets
        .iter()
        .find(|d| d.dataset == "cbs.p")
        .unwrap();
    assert!(cbs.approved && cbs.approved_by == "cbs/provider/cbs" && cbs.holder == "cbs");

    // Refusals of bad drafts name the field.
    let e = create_project(&mut c.admin, "kansen", &[], &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = create_project(&mut c.admin, "nieuw", &[], &["uva/provider/x"])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let field = &e.get_details_bad_request().unwrap().field_violations[0].field;
    assert_eq!(field, "members[0]");
    let e = create_project(&mut c.admin, "nieuw", &["cbs.p", "nobody.x"], &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(
        e.get_details_error_info().unwrap().metadata["field"],
        "datasets[1]"
    );
    let e = create_project(&mut c.admin, "Nieuw", &[], &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // A change: pietersen joins, duo.q leaves; then the project closes.
    let changed = c
        .admin
        .projects
        .change_project(proto::ChangeProjectRequest {
            name: "kansen".into(),
            add_members: vec!["uva/analyst/pietersen".into()],
            remove_datasets: vec!["duo.q".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        changed.members,
        ["uva/analyst/jansen", "uva/analyst/pietersen"]
    );
    table(&mut c.pietersen, "kansen", &["cbs.p.g"])
        .await
        .unwrap();
    c.admin
        .projects
        .close_project(proto::CloseProjectRequest {
            name: "kansen".into(),
        })
        .await
        .unwrap();
    let e = c
        .admin
        .projects
        .change_project(proto::ChangeProjectRequest {
            name: "kansen".into(),
            add_datasets: vec!["duo.q".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(e.get_details_error_info().unwrap().reason, "PROJECT_CLOSED");
    server.stop().await.unwrap();

    // After a restart the project is as it was, closed.
    let server = tls_server_in(&mut pki, &[], &data, &keys).await;
    let mut c = cast(&mut pki, &https(&server)).await;
    let listed = c
        .admin
        .projects
        .list_projects(proto::ListProjectsRequest {})
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert_eq!(listed.len(), 1);
    let p = &listed[0];
    assert_eq!(p.name, "kansen");
    assert!(p.closed_ms > 0 && p.created_by == "ocw/administrator/admin");
    assert_eq!(p.members.len(), 2);
    let datasets: Vec<&str> = p.datasets.iter().map(|d| d.dataset.as_str()).collect();
    assert_eq!(datasets, ["cbs.p"]);
    denied(
        table(&mut c.pietersen, "kansen", &["cbs.p.g"]).await,
        "closed, after a restart",
    );
    server.stop().await.unwrap();

    let kinds = |kind: &str| {
        common::db_scalar(
            data.path(),
            &format!("SELECT count(*) FROM audit_log WHERE kind = '{kind}' AND project = 'kansen'"),
        )
    };
    assert_eq!(kinds("project.created"), 1);
    assert_eq!(kinds("project.dataset_approved"), 1);
    assert_eq!(kinds("project.changed"), 1);
    assert_eq!(kinds("project.closed"), 1);
    let by_admin = common::db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'project.closed' AND actor = 'ocw/administrator/admin'",
    );
    assert_eq!(by_admin, 1, "the log names who closed it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_lists_only_its_projects() {
    let (_pki, server, _data, _keys, mut c) = started().await;
    create_project(
        &mut c.admin,
        "alleen-cbs",
        &["cbs.p"],
        &["uva/analyst/pietersen"],
    )
    .await
    .unwrap();
    async fn names(c: &mut Clients) -> Vec<String> {
        c.projects
            .list_projects(proto::ListProjectsRequest {})
            .await
            .unwrap()
            .into_inner()
            .projects
            .into_iter()
            .map(|p| p.name)
            .collect()
    }
    assert_eq!(names(&mut c.admin).await, ["alleen-cbs", "kansen"]);
    assert_eq!(names(&mut c.cbs).await, ["alleen-cbs", "kansen"]);
    assert_eq!(
        names(&mut c.duo).await,
        ["kansen"],
        "duo's data is in kansen only"
    );
    assert_eq!(names(&mut c.jansen).await, ["kansen"]);
    assert_eq!(names(&mut c.pietersen).await, ["alleen-cbs"]);
    server.stop().await.unwrap();
}
