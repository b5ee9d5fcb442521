//! Times protected tables on the demo's synthetic data, through the real
//! server and client: `cargo run --release --example table_timing [PUPILS]`.

use std::io::Cursor;
use std::time::Instant;

use ddc::client;
use ddc::disclosure::DisclosurePolicy;
use ddc::proto::{self, TableRequest, UploadHeader};
use ddc::server::{LocalServer, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pupils = std::env::args().nth(1).map_or(Ok(20_000), |a| a.parse())?;
    let (data_dir, key_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let config = ServerConfig::new(
        data_dir.path().into(),
        key_dir.path().into(),
        DisclosurePolicy::default(),
    );
    let server = LocalServer::start(config).await?;
    let mut c = server.connect().await?;
    let data = ddc::demo::synth::generate(pupils, 1);
    let cbs = [
        "decile:cat:1,2,3,4,5,6,7,8,9,10",
        "provincie:open",
        "huishoudinkomen:int:household",
    ];
    let duo = [
        "sector:cat:po,vo,mbo,ho,vavo",
        "niveau:open",
        "geslacht:cat:m,v",
    ];
    ddc::demo::declare_dataset(&mut c.ingest, "cbs.i", "bsn", "huishouden", &cbs).await?;
    ddc::demo::declare_dataset(&mut c.ingest, "duo.o", "pgn", "", &duo).await?;
    for (name, csv) in [("cbs.i", data.cbs_csv), ("duo.o", data.duo_csv)] {
        let header = UploadHeader {
            dataset: name.into(),
            skip_invalid: true,
            replace: false,
            upload_id: client::new_upload_id(),
            ..Default::default()
        };
        client::upload(&mut c.ingest, header, Cursor::new(csv.into_bytes()), |_| {}).await?;
    }
    // The largest first: the release ledger has no earlier cells to
    // compare it with yet.
    let tables: [(&[&str], i32, &str); 4] = [
        (&["duo.o.niveau", "cbs.i.provincie", "cbs.i.decile"], 0, ""),
        (&["duo.o.niveau", "cbs.i.provincie"], 0, ""),
        (
            &["duo.o.niveau", "cbs.i.provincie", "duo.o.geslacht"],
            0,
            "",
        ),
        (
            &["duo.o.niveau", "cbs.i.decile"],
            proto::MeasureKind::Mean as i32,
            "cbs.i.huishoudinkomen",
        ),
    ];
    for (by, measure, variable) in tables {
        let request = TableRequest {
            group_by: by.iter().map(|s| s.to_string()).collect(),
            measure,
            variable: variable.into(),
            ..Default::default()
        };
        let started = Instant::now();
        match c.release.tabulate(request).await {
            Ok(t) => {
                let s = t.into_inner().summary.unwrap_or_default();
                println!(
                    "{by:?} {variable}: {:.0?}, {} cells, {} released, {} withheld by a rule, {} secondary",
                    started.elapsed(),
                    s.cells,
                    s.released,
                    s.withheld_threshold + s.withheld_group + s.withheld_dominance + s.withheld_p_percent + s.withheld_value_counts,
                    s.withheld_secondary
                );
            }
            Err(e) => println!(
                "{by:?}: {:.0?}, refused: {}",
                started.elapsed(),
                e.message()
            ),
        }
    }
    server.stop().await?;
    Ok(())
}
