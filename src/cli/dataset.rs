//! `ddc dataset create|list|show|delete`.

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::{connect, status_error, ServerArg};
use crate::proto::{self, column};

/// Dataset commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum DatasetCommand {
    /// Declare a new dataset.
    Create(CreateArgs),
    /// List the declared datasets.
    List {
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Show one dataset's schema.
    Show {
        /// The dataset, e.g. `duo.onderwijs_2024`.
        name: String,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Delete one of your organisation's datasets with all its rows, for
    /// good (release records keep their requests and released cells).
    Delete {
        /// The dataset.
        name: String,
        /// Confirms the deletion: it cannot be undone.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        server: ServerArg,
    },
}

/// Flags of `ddc dataset create`.
#[derive(Debug, clap::Args)]
pub(super) struct CreateArgs {
    /// Full name, `organisation.name`, e.g. `duo.onderwijs_2024`.
    name: String,
    /// The CSV column holding the BSN or onderwijsnummer (or its holder
    /// pseudonym: see `--identifier-mode`).
    #[arg(long)]
    identifier: String,
    /// What the identifier column holds: `identifier` (a BSN or
    /// onderwijsnummer) or `holder-pseudonym` (the holders' HMAC of it,
    /// computed by `ddc upload --holders-key`). Datasets link only to
    /// datasets of the same mode.
    #[arg(long, value_enum, default_value_t = IdentifierModeArg::Identifier)]
    identifier_mode: IdentifierModeArg,
    /// The CSV column holding a household identifier (for household values).
    #[arg(long)]
    household: Option<String>,
    /// A column, in order: `NAME:cat:A,B,C` (closed categories),
    /// `NAME:open` (any category), `NAME:list:CODELIST` (the codes of a
    /// code list, its latest version), `NAME:int`, or `NAME:dec:SCALE`.
    #[arg(long = "column", value_parser = parse_column_spec)]
    columns: Vec<proto::Column>,
    #[command(flatten)]
    server: ServerArg,
}

/// `--identifier-mode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum IdentifierModeArg {
    /// A BSN or onderwijsnummer.
    Identifier,
    /// A holder pseudonym (64 hex digits).
    HolderPseudonym,
}

impl From<IdentifierModeArg> for proto::IdentifierMode {
    fn from(mode: IdentifierModeArg) -> Self {
        match mode {
            IdentifierModeArg::Identifier => proto::IdentifierMode::Identifier,
            IdentifierModeArg::HolderPseudonym => proto::IdentifierMode::HolderPseudonym,
        }
    }
}

/// Parses `NAME:cat:A,B`, `NAME:open`, `NAME:list:CODELIST`,
/// `NAME:int[:household]` or `NAME:dec:SCALE[:household]`.
pub fn parse_column_spec(spec: &str) -> Result<proto::Column, String> {
    let mut parts = spec.splitn(3, ':');
    let name = parts.next().unwrap_or_default().to_owned();
    let (kind, rest) = (parts.next(), parts.next());
    let unit = |rest: Option<&str>| match rest {
        None => Ok(proto::Unit::Person),
        Some("household") => Ok(proto::Unit::Household),
        Some(other) => Err(format!("`{other}` is not a unit (only `household`)")),
    };
    let (kind, unit) = match (kind, rest) {
        (Some("cat"), Some(values)) => (
            column::Kind::Categorical(proto::Categorical {
                categories: values.split(',').map(str::to_owned).collect(),
                ..Default::default()
            }),
            proto::Unit::Person,
        ),
        (Some("open"), None) => (
            column::Kind::Categorical(proto::Categorical {
                open: true,
                ..Default::default()
            }),
            proto::Unit::Person,
        ),
        (Some("list"), Some(list)) => (
            column::Kind::Categorical(proto::Categorical {
                code_list: list.to_owned(),
                ..Default::default()
            }),
            proto::Unit::Person,
        ),
        (Some("int"), rest) => (column::Kind::Integer(proto::Integer {}), unit(rest)?),
        (Some("dec"), Some(rest)) => {
            let (scale, unit_part) = match rest.split_once(':') {
                Some((scale, u)) => (scale, Some(u)),
                None => (rest, None),
            };
            let scale = scale
                .parse()
                .map_err(|_| format!("`{scale}` is not a scale"))?;
            (
                column::Kind::Decimal(proto::Decimal { scale }),
                unit(unit_part)?,
            )
        }
        _ => {
            return Err("expected NAME:cat:A,B,C, NAME:open, NAME:list:CODELIST, \
                        NAME:int[:household] or NAME:dec:SCALE[:household]"
                .into())
        }
    };
    Ok(proto::Column {
        name,
        kind: Some(kind),
        unit: unit as i32,
    })
}

pub(super) async fn run(command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Create(a) => {
            let organisation = a.name.split('.').next().unwrap_or_default().to_owned();
            let request = proto::CreateDatasetRequest {
                name: a.name,
                organisation,
                schema: Some(proto::Schema {
                    identifier_column: a.identifier,
                    household_column: a.household.unwrap_or_default(),
                    columns: a.columns,
                    identifier_mode: proto::IdentifierMode::from(a.identifier_mode) as i32,
                }),
            };
            let mut clients = connect(&a.server).await?;
            let d = clients
                .ingest
                .create_dataset(request)
                .await
                .map_err(|s| status_error("cannot create the dataset", s))?
                .into_inner();
            println!("created {}", d.name);
        }
        DatasetCommand::List { format, server } => {
            let mut clients = connect(&server).await?;
            let list = clients
                .ingest
                .list_datasets(proto::ListDatasetsRequest {})
                .await
                .map_err(|s| status_error("cannot list datasets", s))?
                .into_inner();
            output::print(&Datasets(list.datasets), format.format)?;
        }
        DatasetCommand::Show {
            name,
            format,
            server,
        } => {
            let mut clients = connect(&server).await?;
            let d = clients
                .ingest
                .get_dataset(proto::GetDatasetRequest { name })
                .await
                .map_err(|s| status_error("cannot show the dataset", s))?
                .into_inner();
            output::print(&d, format.format)?;
        }
        DatasetCommand::Delete { name, yes, server } => {
            anyhow::ensure!(
                yes,
                "this deletes {name} and every row of it for good; add --yes to confirm"
            );
            let mut clients = connect(&server).await?;
            let d = clients
                .ingest
                .delete_dataset(proto::DeleteDatasetRequest { name })
                .await
                .map_err(|s| status_error("cannot delete the dataset", s))?
                .into_inner();
            let from = match d.projects.len() {
                0 => String::new(),
                _ => format!("; taken out of project(s) {}", d.projects.join(", ")),
            };
            println!("deleted {} with its {} rows{from}", d.dataset, d.rows);
        }
    }
    Ok(())
}

fn unit_text(unit: i32) -> &'static str {
    match proto::Unit::try_from(unit) {
        Ok(proto::Unit::Household) => ", per household",
        _ => "",
    }
}

/// What a dataset's identifier column holds, in words.
fn identifier_mode_text(mode: i32) -> &'static str {
    match proto::IdentifierMode::try_from(mode) {
        Ok(proto::IdentifierMode::Unspecified | proto::IdentifierMode::Identifier) => "identifiers",
        Ok(proto::IdentifierMode::HolderPseudonym) => "holder pseudonyms",
        Err(_) => "unknown identifier mode",
    }
}

fn describe(d: &proto::Dataset) -> String {
    let schema = d.schema.clone().unwrap_or_default();
    let identifier = match proto::IdentifierMode::try_from(schema.identifier_mode) {
        Ok(proto::IdentifierMode::HolderPseudonym) => {
            "holder pseudonym (the holders' HMAC of the identifier; pseudonymised again)"
        }
        Ok(proto::IdentifierMode::Unspecified | proto::IdentifierMode::Identifier) => {
            "identifier (pseudonymised)"
        }
        Err(_) => "identifier of a mode this client does not know",
    };
    let mut out = format!(
        "{} (organisation {}, version {})\n  {}: {identifier}\n",
        d.name, d.organisation, d.version, schema.identifier_column
    );
    if !schema.household_column.is_empty() {
        out.push_str(&format!(
            "  {}: household (pseudonymised)\n",
            schema.household_column
        ));
    }
    for c in schema.columns {
        let kind = match c.kind {
            Some(column::Kind::Categorical(cat)) if !cat.code_list.is_empty() => {
                format!(
                    "categorical on code list {} v{}",
                    cat.code_list, cat.code_list_version
                )
            }
            Some(column::Kind::Categorical(cat)) if cat.open => "open categorical".to_owned(),
            Some(column::Kind::Categorical(cat)) => {
                format!("categorical: {}", cat.categories.join(", "))
            }
            Some(column::Kind::Integer(_)) => format!("integer{}", unit_text(c.unit)),
            Some(column::Kind::Decimal(dec)) => {
                format!(
                    "decimal, {} digits after the point{}",
                    dec.scale,
                    unit_text(c.unit)
                )
            }
            None => "unknown".to_owned(),
        };
        out.push_str(&format!("  {}: {kind}\n", c.name));
    }
    out
}

/// The datasets as listed.
struct Datasets(Vec<proto::Dataset>);

/// What the identifier column holds, for programs.
fn identifier_mode_name(mode: i32) -> &'static str {
    match proto::IdentifierMode::try_from(mode) {
        Ok(proto::IdentifierMode::HolderPseudonym) => "holder_pseudonym",
        _ => "identifier",
    }
}

/// One row per dataset.
impl Output for Datasets {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|d| {
                let mode = d.schema.as_ref().map_or(0, |s| s.identifier_mode);
                format!(
                    "{}\tversion {}\t{}\n",
                    d.name,
                    d.version,
                    identifier_mode_text(mode)
                )
            })
            .collect()
    }

    fn columns(&self) -> &'static [&'static str] {
        &["name", "organisation", "version", "identifier_mode"]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.0
            .iter()
            .map(|d| {
                let mode = d.schema.as_ref().map_or(0, |s| s.identifier_mode);
                row([
                    ("name", json!(d.name)),
                    ("organisation", json!(d.organisation)),
                    ("version", json!(d.version)),
                    ("identifier_mode", json!(identifier_mode_name(mode))),
                ])
            })
            .collect()
    }
}

/// A column for programs: `kind` is `categorical`, `integer` or
/// `decimal`, with `categories`, `open`, `code_list` and
/// `code_list_version`, or `scale`; `unit` is `person` or `household`.
fn column_row(c: &proto::Column) -> Map<String, Value> {
    let unit = match proto::Unit::try_from(c.unit) {
        Ok(proto::Unit::Household) => "household",
        _ => "person",
    };
    let mut r = row([("name", json!(c.name)), ("unit", json!(unit))]);
    let kind = match &c.kind {
        Some(column::Kind::Categorical(cat)) => {
            r.insert("categories".into(), json!(cat.categories));
            r.insert("open".into(), json!(cat.open));
            r.insert("code_list".into(), output::text_or_null(&cat.code_list));
            if !cat.code_list.is_empty() {
                r.insert("code_list_version".into(), json!(cat.code_list_version));
            }
            "categorical"
        }
        Some(column::Kind::Integer(_)) => "integer",
        Some(column::Kind::Decimal(d)) => {
            r.insert("scale".into(), json!(d.scale));
            "decimal"
        }
        None => "unknown",
    };
    r.insert("kind".into(), json!(kind));
    r
}

/// CSV: one row per value column. JSON: `{name, organisation, version,
/// identifier_column, identifier_mode, household_column, columns}`.
impl Output for proto::Dataset {
    fn text(&self) -> String {
        describe(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "name",
            "kind",
            "unit",
            "categories",
            "open",
            "code_list",
            "code_list_version",
            "scale",
        ]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        let schema = self.schema.clone().unwrap_or_default();
        schema.columns.iter().map(column_row).collect()
    }

    fn json(&self) -> Value {
        let schema = self.schema.clone().unwrap_or_default();
        json!({
            "name": self.name,
            "organisation": self.organisation,
            "version": self.version,
            "identifier_column": schema.identifier_column,
            "identifier_mode": identifier_mode_name(schema.identifier_mode),
            "household_column": output::text_or_null(&schema.household_column),
            "columns": self.rows(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_specs_parse() {
        let c = parse_column_spec("niveau:cat:havo,vwo").unwrap();
        assert_eq!(c.name, "niveau");
        assert!(
            matches!(c.kind, Some(column::Kind::Categorical(ref k)) if k.categories == ["havo", "vwo"])
        );
        assert!(matches!(
            parse_column_spec("x:dec:2").unwrap().kind,
            Some(column::Kind::Decimal(proto::Decimal { scale: 2 }))
        ));
        assert!(parse_column_spec("x:float").is_err());
        assert!(matches!(
            parse_column_spec("niveau:list:onderwijsniveau").unwrap().kind,
            Some(column::Kind::Categorical(ref k))
                if k.code_list == "onderwijsniveau" && k.categories.is_empty() && !k.open
        ));
        assert!(parse_column_spec("niveau:list").is_err());
        let h = parse_column_spec("inkomen:dec:2:household").unwrap();
        assert_eq!(h.unit, proto::Unit::Household as i32);
        assert_eq!(
            parse_column_spec("n:int").unwrap().unit,
            proto::Unit::Person as i32
        );
        assert!(parse_column_spec("n:int:family").is_err());
    }
}
