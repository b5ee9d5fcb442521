//! The equal-opportunity table at population scale, with DUO's levels of
//! every sector declared as plain categories and on code lists, through
//! the real server: `cargo run --release --example classification_timing
//! [PUPILS] [OTHER_CBS_PERSONS] [THREADS]` (default 2,000,000 and
//! 5,500,000, and the machine's parallelism for each table: about
//! 7.4 million CBS persons; the synthetic test-BSN range, 9xxxxxxxx, holds
//! only about 9 million valid numbers, so 18 million persons need another
//! generator). The server logs each table's tabulate and protect times
//! (`table protected`); the example prints what was released.

use std::io::Cursor;
use std::time::Instant;

use ddc::client;
use ddc::demo::{declare_dataset, synth};
use ddc::disclosure::DisclosurePolicy;
use ddc::proto::{Filter, TableRequest, UploadHeader};
use ddc::server::{LocalServer, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("ddc::engine=info"))
        .init();
    let arg = |i: usize, default: usize| std::env::args().nth(i).map_or(Ok(default), |a| a.parse());
    let (pupils, others) = (arg(1, 2_000_000)?, arg(2, 5_500_000)?);
    let threads = arg(3, ddc::server::machine_parallelism())?;
    let (data_dir, key_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let mut config = ServerConfig::new(
        data_dir.path().into(),
        key_dir.path().into(),
        DisclosurePolicy::default(),
    );
    config.table_limits = config.table_limits.with_parallelism(threads);
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
    ddc::demo::publish_code_lists(&mut c).await?;
    let sectors: Vec<&str> = synth::SECTORS.iter().map(|s| s.0).collect();
    let levels: Vec<&str> = synth::NIVEAUS.iter().map(|l| l.0).collect();
    let plain = [
        format!("sector:cat:{}", sectors.join(",")),
        format!("niveau:cat:{}", levels.join(",")),
        "geslacht:cat:m,v".to_owned(),
    ];
    let listed = [
        format!("sector:list:{}", ddc::demo::SECTOR_LIST),
        format!("niveau:list:{}", ddc::demo::LEVEL_LIST),
        "geslacht:cat:m,v".to_owned(),
    ];
    let cbs = [
        "decile:cat:1,2,3,4,5,6,7,8,9,10",
        "provincie:open",
        "huishoudinkomen:int:household",
    ];
    declare_dataset(&mut c.ingest, "cbs.i", "bsn", "huishouden", &cbs).await?;
    declare_dataset(&mut c.ingest, "duo.plat", "pgn", "", &plain).await?;
    declare_dataset(&mut c.ingest, "duo.lijst", "pgn", "", &listed).await?;
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
            ..Default::default()
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
