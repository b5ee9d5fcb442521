//! The equal-opportunity table at population scale, with DUO's levels of
//! every sector declared as plain categories and on code lists, through
//! the real server: `cargo run --release --example classification_timing
//! [PUPILS] [OTHER_CBS_PERSONS]` (default 4,000,000 and 14,200,000: 18
//! million CBS persons). The server logs each table's tabulate and protect
//! times (`table protected`); the example prints what was released.

use std::io::Cursor;
use std::time::Instant;

use ddc::client;
use ddc::demo::synth;
use ddc::disclosure::DisclosurePolicy;
use ddc::proto::{self, Filter, TableRequest, UploadHeader};
use ddc::server::{LocalServer, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("ddc::engine=info"))
        .init();
    let arg = |i: usize, default: usize| std::env::args().nth(i).map_or(Ok(default), |a| a.parse());
    let (pupils, others) = (arg(1, 4_000_000)?, arg(2, 14_200_000)?);
    let (data_dir, key_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let config = ServerConfig::new(
        data_dir.path().into(),
        key_dir.path().into(),
        DisclosurePolicy::default(),
    );
    let server = LocalServer::start(config).await?;
    let mut c = server.connect().await?;
    let started = Instant::now();
    let data = synth::generate_population(pupils, others, 1);
    println!(
        "generated DUO {} and CBS {} persons in {:.1?}",
        data.duo_persons,
        data.cbs_persons,
        started.elapsed()
    );
    let code = |code: &str, label: &str, parent: &str| proto::Code {
        code: code.into(),
        label: label.into(),
        label_en: String::new(),
        parent: parent.into(),
    };
    let lists = [
        (
            "onderwijssector",
            "",
            synth::SECTORS.iter().map(|(c, l)| code(c, l, "")).collect(),
        ),
        (
            "onderwijsniveau",
            "onderwijssector",
            synth::NIVEAUS
                .iter()
                .map(|(c, p, l)| code(c, l, p))
                .collect::<Vec<_>>(),
        ),
    ];
    for (name, parent, codes) in lists {
        let request = proto::CreateCodeListRequest {
            name: name.into(),
            parent: parent.into(),
            codes,
        };
        c.classifications.create_code_list(request).await?;
    }
    let sectors: Vec<&str> = synth::SECTORS.iter().map(|s| s.0).collect();
    let levels: Vec<&str> = synth::NIVEAUS.iter().map(|l| l.0).collect();
    let plain_sector = format!("sector:cat:{}", sectors.join(","));
    let plain_niveau = format!("niveau:cat:{}", levels.join(","));
    let datasets: [(&str, &str, &str, Vec<&str>); 3] = [
        (
            "cbs.i",
            "bsn",
            "huishouden",
            vec![
                "decile:cat:1,2,3,4,5,6,7,8,9,10",
                "provincie:open",
                "huishoudinkomen:int:household",
            ],
        ),
        (
            "duo.plat",
            "pgn",
            "",
            vec![&plain_sector, &plain_niveau, "geslacht:cat:m,v"],
        ),
        (
            "duo.lijst",
            "pgn",
            "",
            vec![
                "sector:list:onderwijssector",
                "niveau:list:onderwijsniveau",
                "geslacht:cat:m,v",
            ],
        ),
    ];
    for (name, id, household, columns) in datasets {
        let columns = columns
            .iter()
            .map(|s| ddc::cli::parse_column_spec(s))
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?;
        let schema = proto::Schema {
            identifier_column: id.into(),
            household_column: household.into(),
            columns,
        };
        let request = proto::CreateDatasetRequest {
            name: name.into(),
            organisation: name[..3].into(),
            schema: Some(schema),
        };
        c.ingest.create_dataset(request).await?;
    }
    for (name, csv) in [
        ("cbs.i", &data.cbs_csv),
        ("duo.plat", &data.duo_csv),
        ("duo.lijst", &data.duo_csv),
    ] {
        let header = UploadHeader {
            dataset: name.into(),
            skip_invalid: true,
            replace: false,
            upload_id: client::new_upload_id(),
        };
        let t = Instant::now();
        client::upload(
            &mut c.ingest,
            header,
            Cursor::new(csv.clone().into_bytes()),
            |_| {},
        )
        .await?;
        println!("uploaded {name} in {:.1?}", t.elapsed());
    }
    for duo in ["duo.plat", "duo.lijst"] {
        for by in [
            vec![format!("{duo}.niveau"), "cbs.i.decile".to_owned()],
            vec![
                format!("{duo}.niveau"),
                "cbs.i.decile".to_owned(),
                format!("{duo}.geslacht"),
            ],
        ] {
            let request = TableRequest {
                group_by: by.clone(),
                filters: vec![Filter {
                    variable: format!("{duo}.sector"),
                    values: vec!["vo".into()],
                    negate: false,
                }],
                project: duo.replace(".", "-"),
                ..Default::default()
            };
            let t = Instant::now();
            match c.release.tabulate(request).await {
                Ok(table) => {
                    let s = table.into_inner().summary.unwrap_or_default();
                    println!(
                        "{by:?} where sector = vo: {:.0?}, {} of {} cells released ({} withheld by a rule, {} secondary)",
                        t.elapsed(),
                        s.released,
                        s.cells,
                        s.withheld_threshold + s.withheld_group + s.withheld_dominance + s.withheld_p_percent + s.withheld_value_counts,
                        s.withheld_secondary
                    );
                }
                Err(e) => println!("{by:?}: refused: {}", e.message()),
            }
        }
    }
    server.stop().await?;
    Ok(())
}
