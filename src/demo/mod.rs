//! `ddc demo`: the whole job on synthetic data, through the real server and
//! the real gRPC client, in one command.
//!
//! Starts the server in-process on loopback with fresh temporary data and
//! key directories, declares a DUO and a CBS dataset, uploads synthetic
//! files (showing how invalid identifiers are rejected), prints linkage
//! figures and an equal-opportunity table, verifies the linkage log as an
//! auditor would, and stops.

pub mod synth;

use std::io::Cursor;
use std::time::Instant;

use anyhow::Context;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::cli::{
    code_name, describe_receipt, render_linkage, render_table, write_chart, ChartStyle, Format,
    Share,
};
use crate::client::{self, Clients};
use crate::disclosure::DisclosurePolicy;
use crate::proto::{
    self, ingest_client::IngestClient, CellStatus, Filter, LinkageRequest, MeasureKind,
    TableRequest,
};
use crate::server::{LocalServer, ServerConfig};

const DUO: &str = "duo.onderwijs_2024";
const CBS: &str = "cbs.inkomen_2024";
/// The project the demo's tables are asked under.
const PROJECT: &str = "equal-opportunity";

/// Flags of `ddc demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Pupils and students in the DUO file (CBS holds about three times as many persons).
    #[arg(long, default_value_t = 20_000)]
    pupils: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Where to draw the equal-opportunity chart (`.svg` or `.png`): each
    /// level's share of the pupils per income decile.
    #[arg(long, default_value = "ddc-demo-equal-opportunity.svg")]
    chart: std::path::PathBuf,
}

/// Runs the demo.
pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir().context("temporary data directory")?;
    let key_dir = tempfile::tempdir().context("temporary key directory")?;
    let config = ServerConfig::new(
        data_dir.path().to_path_buf(),
        key_dir.path().to_path_buf(),
        DisclosurePolicy::default(),
    );
    let server = LocalServer::start(config).await?;
    println!(
        "ddc demo: server on {}, fresh data and key directories\n",
        server.url()
    );
    let result = async { walk_through(server.connect().await?, &a).await }.await;
    server.stop().await?;
    result
}

async fn walk_through(mut c: Clients, a: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = synth::generate(a.pupils, a.seed);
    println!(
        "1. Generated synthetic files in memory: DUO {} persons (+{} invalid identifiers), CBS {} persons ({:.1?})",
        data.duo_persons,
        synth::INVALID_DUO_ROWS,
        data.cbs_persons,
        started.elapsed()
    );
    publish_code_lists(&mut c).await?;
    declare(&mut c.ingest).await?;
    println!(
        "2. Published code lists {SECTOR_LIST} ({} sectors) and {LEVEL_LIST} ({} levels, each within its sector);\n   declared {DUO} with sector and niveau on them, and {CBS}\n",
        synth::SECTORS.len(),
        synth::NIVEAUS.len()
    );

    println!("3. Uploading {DUO} strictly: invalid rows reject the whole file");
    let strict = upload(&mut c.ingest, DUO, &data.duo_csv, false).await;
    match strict {
        Err(status) => {
            println!(
                "   rejected ({}), nothing stored: {}",
                code_name(status.code()),
                status.message()
            );
            if let Some(bad) = status.get_details_bad_request() {
                for v in &bad.field_violations {
                    println!("     {}: {}", v.field, v.description);
                }
            }
        }
        Ok(_) => anyhow::bail!("the strict upload should have been rejected"),
    }
    println!("\n4. Uploading again with skip_invalid: valid rows stored, invalid ones reported");
    let mut kept = None;
    for (name, csv) in [(DUO, &data.duo_csv), (CBS, &data.cbs_csv)] {
        let t = Instant::now();
        let receipt = upload(&mut c.ingest, name, csv, true)
            .await
            .map_err(|s| anyhow::anyhow!("{s}"))?;
        kept = kept.or(receipt.log.clone());
        print!(
            "   {}",
            describe_receipt(&receipt)
                .replace('\n', "\n   ")
                .trim_end_matches(' ')
        );
        println!(
            "   ({:.1?}, identifiers pseudonymised on arrival)",
            t.elapsed()
        );
    }

    open_project(&mut c).await?;

    println!("\n6. Linkage figures (rounded, withheld below the threshold)\n");
    let report = c
        .release
        .linkage(LinkageRequest {
            datasets: vec![],
            project: PROJECT.into(),
        })
        .await?
        .into_inner();
    print!("{}", indent(&render_linkage(&report)));

    println!(
        "\n7. Equal opportunity: secondary-school pupils by level and parental income decile\n"
    );
    let request = TableRequest {
        group_by: vec![format!("{DUO}.niveau"), format!("{CBS}.decile")],
        ..request_for_levels()
    };
    let table = c.release.tabulate(request.clone()).await?.into_inner();
    print!("{}", indent(&render_table(&table, Format::Text)?));
    println!("\n   Share in havo/vwo by decile, from the released cells:");
    println!("   {}", havo_vwo_shares(&table));
    write_chart(&table, Some(Share::Column), ChartStyle::Lines, &a.chart)?;
    println!(
        "   Chart of each level's share per decile (released cells only): {}",
        a.chart.display()
    );

    println!("\n8. The same question for one small province: small cells are withheld\n");
    let mut zeeland = request;
    zeeland.filters.push(Filter {
        variable: format!("{CBS}.provincie"),
        values: vec!["zeeland".into()],
        negate: false,
    });
    let table = c.release.tabulate(zeeland).await?.into_inner();
    print!("{}", indent(&render_table(&table, Format::Text)?));

    println!("\n9. Mean household income by level and province: a magnitude table, households as units\n");
    let income = TableRequest {
        group_by: vec![format!("{DUO}.niveau"), format!("{CBS}.provincie")],
        measure: MeasureKind::Mean as i32,
        variable: format!("{CBS}.huishoudinkomen"),
        ..request_for_levels()
    };
    let table = c.release.tabulate(income).await?.into_inner();
    print!("{}", indent(&render_table(&table, Format::Text)?));

    println!(
        "\n10. Differencing: all pupils by sector, then the same without the {} vavo pupils\n",
        synth::VAVO_PUPILS
    );
    let everyone = TableRequest {
        group_by: vec![format!("{DUO}.sector")],
        datasets: vec![CBS.into()],
        project: PROJECT.into(),
        ..Default::default()
    };
    c.release.tabulate(everyone.clone()).await?;
    println!("   all pupils: released");
    let mut without = everyone;
    without.project = "another-project".into();
    without.filters.push(Filter {
        variable: format!("{DUO}.sector"),
        values: vec!["vavo".into()],
        negate: true,
    });
    match c.release.tabulate(without).await {
        Err(status) => println!(
            "   without vavo, in another project: {}, {}",
            code_name(status.code()),
            status.message()
        ),
        Ok(_) => println!("   without vavo: released (the group was large enough)"),
    }

    println!("\n11. An auditor verifies the linkage log against DUO's upload receipt\n");
    let receipt = kept.context("the upload carried no log receipt")?;
    println!("{}", indent(&verify_log(&mut c, &receipt).await?));
    println!(
        "\nDone in {:.1?}. The temporary directories are removed.",
        started.elapsed()
    );
    Ok(())
}

/// An administrator opens the demo's project over both datasets; each
/// holder approves its own.
async fn open_project(c: &mut Clients) -> anyhow::Result<()> {
    c.projects
        .create_project(proto::CreateProjectRequest {
            name: PROJECT.into(),
            purpose: "Equal opportunity in education: havo/vwo by parental income".into(),
            members: vec!["ocw/analyst/demo".into()],
            datasets: vec![DUO.into(), CBS.into()],
        })
        .await?;
    for dataset in [DUO, CBS] {
        c.projects
            .approve_dataset(proto::ApprovalRequest {
                project: PROJECT.into(),
                dataset: dataset.into(),
            })
            .await?;
    }
    println!(
        "\n5. An administrator opened project {PROJECT} over {DUO} and {CBS}; DUO and CBS each\n   approved their dataset (analysts ask only inside projects, over approved datasets)"
    );
    Ok(())
}

/// Recomputes the log's tree from its entries and checks it against the
/// checkpoint of `receipt` and the server's latest. (An auditor verifies
/// with the key the operator published; the demo asks the server for it.)
async fn verify_log(c: &mut Clients, receipt: &proto::LogReceipt) -> anyhow::Result<String> {
    use crate::audit::{note::Verifier, verify::LogVerifier};
    use tokio_stream::StreamExt;
    let latest = c
        .audit
        .get_checkpoint(proto::GetCheckpointRequest {})
        .await?
        .into_inner();
    let mut verifier = LogVerifier::new(Verifier::parse(&latest.verifier_key)?);
    verifier.expect("DUO's receipt checkpoint", &receipt.checkpoint)?;
    verifier.expect("the server's latest checkpoint", &latest.note)?;
    let mut entries = c
        .audit
        .list_entries(proto::ListEntriesRequest {
            limit: latest.size,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        verifier.push(entry.index, &entry.entry)?;
        *kinds.entry(entry.kind).or_default() += 1;
    }
    let verified = verifier.finish()?;
    let releases = c
        .audit
        .list_releases(proto::ListReleasesRequest::default())
        .await?
        .into_inner()
        .releases
        .len();
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let matched: Vec<String> = verified
        .checkpoints
        .iter()
        .map(|(label, size)| format!("{label} ({size} entries)"))
        .collect();
    Ok(format!(
        "{} entries ({}); the tree recomputed from them matches {}. Release history: {releases} releases.\n",
        verified.entries,
        kinds.join(", "),
        matched.join(" and ")
    ))
}

/// The demo's code list of sectors.
pub const SECTOR_LIST: &str = "onderwijssector";
/// The demo's code list of levels, within sectors.
pub const LEVEL_LIST: &str = "onderwijsniveau";

/// Publishes the sectors, and the levels of every sector within them, as
/// the code lists `onderwijssector` and `onderwijsniveau`.
pub async fn publish_code_lists(c: &mut Clients) -> anyhow::Result<()> {
    let code = |code: &str, label: &str, parent: &str| proto::Code {
        code: code.into(),
        label: label.into(),
        label_en: String::new(),
        parent: parent.into(),
    };
    let sectors = proto::CreateCodeListRequest {
        name: SECTOR_LIST.into(),
        parent: String::new(),
        codes: synth::SECTORS.iter().map(|(c, l)| code(c, l, "")).collect(),
    };
    let levels = proto::CreateCodeListRequest {
        name: LEVEL_LIST.into(),
        parent: SECTOR_LIST.into(),
        codes: synth::NIVEAUS
            .iter()
            .map(|(c, p, l)| code(c, l, p))
            .collect(),
    };
    for list in [sectors, levels] {
        c.classifications.create_code_list(list).await?;
    }
    Ok(())
}

async fn declare(ingest: &mut IngestClient<Channel>) -> anyhow::Result<()> {
    let deciles: Vec<String> = (1..=10).map(|d| d.to_string()).collect();
    let duo = [
        format!("sector:list:{SECTOR_LIST}"),
        format!("niveau:list:{LEVEL_LIST}"),
        "geslacht:cat:m,v".to_owned(),
    ];
    let cbs = [
        format!("decile:cat:{}", deciles.join(",")),
        format!("provincie:cat:{}", synth::PROVINCIES.join(",")),
        "huishoudinkomen:int".to_owned(),
    ];
    declare_dataset(ingest, DUO, "pgn", "", &duo).await?;
    declare_dataset(ingest, CBS, "bsn", "huishouden", &cbs).await
}

/// Declares `name` (its organisation the part before the dot) with the
/// identifier and household columns and the columns in `ddc dataset
/// create --column` syntax.
pub async fn declare_dataset(
    ingest: &mut IngestClient<Channel>,
    name: &str,
    identifier: &str,
    household: &str,
    columns: &[impl AsRef<str>],
) -> anyhow::Result<()> {
    let columns = columns
        .iter()
        .map(|c| crate::cli::parse_column_spec(c.as_ref()))
        .collect::<Result<Vec<_>, String>>()
        .map_err(anyhow::Error::msg)?;
    ingest
        .create_dataset(proto::CreateDatasetRequest {
            name: name.into(),
            organisation: name.split('.').next().unwrap_or_default().into(),
            schema: Some(proto::Schema {
                identifier_column: identifier.into(),
                household_column: household.into(),
                columns,
                ..Default::default()
            }),
        })
        .await?;
    Ok(())
}

async fn upload(
    ingest: &mut IngestClient<Channel>,
    dataset: &str,
    csv: &str,
    skip_invalid: bool,
) -> Result<proto::UploadReceipt, tonic::Status> {
    let header = proto::UploadHeader {
        dataset: dataset.into(),
        skip_invalid,
        replace: false,
        upload_id: client::new_upload_id(),
        ..Default::default()
    };
    client::upload(ingest, header, Cursor::new(csv.as_bytes().to_vec()), |_| {}).await
}

/// Secondary-school pupils, under the demo's project: the filter on the
/// sector shows only its levels, since the levels' code list says which
/// sector each lies in.
fn request_for_levels() -> TableRequest {
    TableRequest {
        filters: vec![Filter {
            variable: format!("{DUO}.sector"),
            values: vec!["vo".into()],
            negate: false,
        }],
        project: PROJECT.into(),
        ..Default::default()
    }
}

/// havo+vwo over all levels per decile, where every cell needed is released.
fn havo_vwo_shares(t: &proto::Table) -> String {
    let level = |name: &str| {
        t.dimensions[0]
            .categories
            .iter()
            .position(|c| c == name)
            .map(|i| i as i32)
    };
    let released = |coords: [i32; 2]| {
        t.cells
            .iter()
            .find(|c| c.coordinates == coords && c.status == CellStatus::Released as i32)
            .and_then(|c| c.count)
    };
    let (Some(havo), Some(vwo)) = (level("havo"), level("vwo")) else {
        return "levels not found".into();
    };
    (0..t.dimensions[1].categories.len() as i32)
        .map(|d| {
            let share = match (released([havo, d]), released([vwo, d]), released([-1, d])) {
                (Some(h), Some(v), Some(total)) if total > 0 => {
                    format!("{:.0}%", 100.0 * (h + v) as f64 / total as f64)
                }
                _ => "withheld".into(),
            };
            format!("{}: {share}", t.dimensions[1].categories[d as usize])
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}
