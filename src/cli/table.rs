//! `ddc table`: ask for a protected table and print it.

use super::chart::{write_chart, ChartStyle};
use super::failure::Refused;
use super::output::{self, Format, FormatArg};
use super::render::{render_shares, render_table};
use super::share::Share;
use super::{connect, ServerArg};
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
    #[command(flatten)]
    format: FormatArg,
    /// Print percentages of the row or column totals, computed from the
    /// released cells and totals (text; and the chart).
    #[arg(long, value_enum)]
    share: Option<Share>,
    /// Also draw the table into this file (`.svg` or `.png`): released
    /// figures only, withheld cells marked.
    #[arg(long)]
    chart: Option<std::path::PathBuf>,
    /// Bars, or lines across the last variable's ordered categories.
    #[arg(long, value_enum, default_value_t = ChartStyle::Bars, requires = "chart")]
    chart_style: ChartStyle,
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
    anyhow::ensure!(
        a.share.is_none() || a.format.format == Format::Text,
        "--share prints text; the CSV and JSON formats carry the released figures to compute shares from"
    );
    if let Some(path) = &a.chart {
        // Before the request: a bad name must not cost a release.
        crate::chart::ChartFormat::from_path(path)?;
    }
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
        .map_err(|s| Refused::new("table refused", s, table_flag).into())
        .map_err(|e: anyhow::Error| e)?
        .into_inner();
    match a.share {
        Some(share) => output::write_out(&render_shares(&table, share))?,
        None => output::write_out(&render_table(&table, a.format.format)?)?,
    }
    if let Some(path) = &a.chart {
        write_chart(&table, a.share, a.chart_style, path)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

/// A table request's field path as the flag that set it: `group_by[1]`
/// as `--by #2`, `filters[0].values[2]` as `--where #1, value #3`.
fn table_flag(field: &str) -> String {
    let mut parts = field.split('.');
    let head = parts.next().unwrap_or_default();
    let (name, index) = match head.split_once('[') {
        Some((name, i)) => (name, i.trim_end_matches(']').parse::<usize>().ok()),
        None => (head, None),
    };
    let flag = match name {
        "group_by" => "--by",
        "filters" => "--where",
        "datasets" => "--link",
        "variable" | "measure" => "--sum/--mean",
        "project" => "--project",
        _ => return field.to_owned(),
    };
    let mut text = match index {
        Some(i) => format!("{flag} #{}", i + 1),
        None => flag.to_owned(),
    };
    for part in parts {
        match part.split_once('[') {
            Some(("values", j)) => {
                let j = j
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .map_or(0, |j| j + 1);
                text.push_str(&format!(", value #{j}"));
            }
            _ if part == "variable" => text.push_str(", variable"),
            _ => text.push_str(&format!(", {part}")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{parse_filter, table_flag};

    #[test]
    fn request_fields_are_named_by_their_flags() {
        assert_eq!(table_flag("group_by[1]"), "--by #2");
        assert_eq!(table_flag("filters[0].values[2]"), "--where #1, value #3");
        assert_eq!(table_flag("filters[1].variable"), "--where #2, variable");
        assert_eq!(table_flag("datasets[0]"), "--link #1");
        assert_eq!(table_flag("variable"), "--sum/--mean");
        assert_eq!(table_flag("group_by"), "--by");
        assert_eq!(table_flag("other"), "other");
    }

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
