//! `ddc table`: ask for a protected table and print it.

use super::render::{render_table, TableFormat};
use super::{connect, status_error, ServerArg};
use crate::proto::{Filter, MeasureKind, TableRequest};

/// Flags of `ddc table`.
#[derive(Debug, clap::Args)]
pub(super) struct TableArgs {
    /// A grouping variable, `dataset.column` (one to three).
    #[arg(long = "by", required = true)]
    by: Vec<String>,
    /// A filter: `dataset.column=A,B` (in) or `dataset.column!=A,B` (not in).
    #[arg(long = "where", value_parser = parse_filter)]
    filters: Vec<Filter>,
    /// A further dataset the persons must appear in.
    #[arg(long = "link")]
    datasets: Vec<String>,
    /// Sum this numeric `dataset.column` instead of counting persons.
    #[arg(long, conflicts_with = "mean")]
    sum: Option<String>,
    /// Average this numeric `dataset.column` instead of counting persons.
    #[arg(long)]
    mean: Option<String>,
    /// The project the release is recorded under.
    #[arg(long, env = "DDC_PROJECT", default_value = "default")]
    project: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
    #[command(flatten)]
    server: ServerArg,
}

/// Parses `VAR=A,B` or `VAR!=A,B`.
pub(crate) fn parse_filter(s: &str) -> Result<Filter, String> {
    let (variable, values, negate) = if let Some((v, vals)) = s.split_once("!=") {
        (v, vals, true)
    } else if let Some((v, vals)) = s.split_once('=') {
        (v, vals, false)
    } else {
        return Err("expected dataset.column=A,B or dataset.column!=A,B".into());
    };
    Ok(Filter {
        variable: variable.trim().to_owned(),
        values: values.split(',').map(|v| v.trim().to_owned()).collect(),
        negate,
    })
}

pub(super) async fn run(a: TableArgs) -> anyhow::Result<()> {
    let mut clients = connect(&a.server).await?;
    let (measure, variable) = match (a.sum, a.mean) {
        (Some(v), None) => (MeasureKind::Sum, v),
        (None, Some(v)) => (MeasureKind::Mean, v),
        _ => (MeasureKind::Count, String::new()),
    };
    let request = TableRequest {
        group_by: a.by,
        filters: a.filters,
        datasets: a.datasets,
        project: a.project,
        measure: measure as i32,
        variable,
    };
    let table = clients
        .release
        .tabulate(request)
        .await
        .map_err(|s| status_error("table refused", s))?
        .into_inner();
    print!("{}", render_table(&table, a.format)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filters_parse_in_and_not_in() {
        let f = parse_filter("duo.x.sector=vo,mbo").unwrap();
        assert_eq!(
            (f.variable.as_str(), f.values.len(), f.negate),
            ("duo.x.sector", 2, false)
        );
        assert!(parse_filter("duo.x.sector!=po").unwrap().negate);
        assert!(parse_filter("nonsense").is_err());
    }
}
