//! `ddc codelist create|list|show`: code lists from a CSV file.
//!
//! The file has a header line with `code` and `label`, and optionally
//! `label_en` and `parent`. Reading it is pure ([`parse_codes_csv`]), so
//! its errors (each with its line number) are tested without a server.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};

use serde_json::{json, Map, Value};

use super::output::{self, row, FormatArg, Output};
use super::{connect, status_error, ServerArg};
use crate::proto;

/// Code list commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum CodeListCommand {
    /// Publish a code list (a new version if it differs from the latest).
    Create(CreateArgs),
    /// List the latest version of every code list.
    List {
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Show a code list's codes, labels and parents.
    Show {
        /// The list, e.g. `onderwijsniveau`.
        name: String,
        /// The version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        server: ServerArg,
    },
}

/// Flags of `ddc codelist create`.
#[derive(Debug, clap::Args)]
pub(super) struct CreateArgs {
    /// The list's name, e.g. `onderwijsniveau`.
    name: String,
    /// CSV file with header `code,label[,label_en][,parent]`.
    #[arg(long)]
    file: PathBuf,
    /// The parent list, whose codes the `parent` column names.
    #[arg(long)]
    parent: Option<String>,
    #[command(flatten)]
    server: ServerArg,
}

/// The codes of a code list file, in file order, with the line of each.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CodesFile {
    /// The codes.
    pub codes: Vec<proto::Code>,
    /// The file's line number (from 1) of each code.
    pub lines: Vec<u64>,
}

const COLUMNS: [&str; 4] = ["code", "label", "label_en", "parent"];

/// Reads a code list file: a header naming `code` and `label` (and
/// optionally `label_en`, `parent`), then one code per row.
pub fn parse_codes_csv(reader: impl Read) -> anyhow::Result<CodesFile> {
    let mut csv = csv::ReaderBuilder::new().from_reader(reader);
    let header = csv
        .headers()
        .context("line 1: the header is not valid CSV")?;
    let mut at = [None; 4];
    for (i, name) in header.iter().enumerate() {
        let Some(k) = COLUMNS.iter().position(|c| *c == name.trim()) else {
            bail!(
                "line 1: column {} is not one of code, label, label_en, parent",
                i + 1
            );
        };
        if at[k].replace(i).is_some() {
            bail!("line 1: column `{}` appears twice", COLUMNS[k]);
        }
    }
    let (Some(code), Some(label)) = (at[0], at[1]) else {
        bail!("line 1: the header needs the columns `code` and `label`");
    };
    let mut file = CodesFile::default();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            anyhow::anyhow!("line {line}: not a valid CSV row ({})", kind_of(&e))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |k: Option<usize>| k.and_then(|i| record.get(i)).unwrap_or_default();
        if field(Some(code)).is_empty() {
            bail!("line {line}: the code is missing");
        }
        file.codes.push(proto::Code {
            code: field(Some(code)).to_owned(),
            label: field(Some(label)).to_owned(),
            label_en: field(at[2]).to_owned(),
            parent: field(at[3]).to_owned(),
        });
        file.lines.push(line);
    }
    if file.codes.is_empty() {
        bail!("the file holds no codes");
    }
    Ok(file)
}

/// What is wrong with a CSV row, without its content.
fn kind_of(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
        _ => "unreadable".into(),
    }
}

pub(super) async fn run(command: CodeListCommand) -> anyhow::Result<()> {
    match command {
        CodeListCommand::Create(a) => create(a).await?,
        CodeListCommand::List { format, server } => {
            let mut clients = connect(&server).await?;
            let list = clients
                .classifications
                .list_code_lists(proto::ListCodeListsRequest {})
                .await
                .map_err(|s| status_error("cannot list code lists", s))?
                .into_inner();
            output::print(&list, format.format)?;
        }
        CodeListCommand::Show {
            name,
            version,
            format,
            server,
        } => {
            let mut clients = connect(&server).await?;
            let request = proto::GetCodeListRequest {
                name,
                version: version.unwrap_or(0),
            };
            let list = clients
                .classifications
                .get_code_list(request)
                .await
                .map_err(|s| status_error("cannot show the code list", s))?
                .into_inner();
            output::print(&list, format.format)?;
        }
    }
    Ok(())
}

async fn create(a: CreateArgs) -> anyhow::Result<()> {
    let file = File::open(&a.file).with_context(|| format!("cannot open {}", a.file.display()))?;
    let parsed =
        parse_codes_csv(file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let request = proto::CreateCodeListRequest {
        name: a.name,
        parent: a.parent.unwrap_or_default(),
        codes: parsed.codes,
    };
    let mut clients = connect(&a.server).await?;
    let list = clients
        .classifications
        .create_code_list(request)
        .await
        .map_err(|s| {
            let lines = line_hints(&s, &parsed.lines);
            let e = status_error("cannot create the code list", s);
            match lines {
                Some(lines) => e.context(lines),
                None => e,
            }
        })?
        .into_inner();
    println!("published {} ({} codes)", title(&list), list.codes.len());
    Ok(())
}

/// The file lines of the codes a refusal names (`codes[3]` is the fourth
/// row), so the user finds them in the file.
fn line_hints(status: &tonic::Status, lines: &[u64]) -> Option<String> {
    use tonic_types::StatusExt;
    let mut found: Vec<u64> = status
        .get_details_bad_request()
        .map(|b| b.field_violations)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            v.field
                .strip_prefix("codes[")?
                .split(']')
                .next()?
                .parse()
                .ok()
        })
        .filter_map(|i: usize| lines.get(i).copied())
        .collect();
    found.dedup();
    let lines: Vec<String> = found.iter().map(u64::to_string).collect();
    (!lines.is_empty()).then(|| format!("refused at line(s) {} of the file", lines.join(", ")))
}

fn title(l: &proto::CodeList) -> String {
    match l.parent.as_str() {
        "" => format!("{} v{}", l.name, l.version),
        parent => format!(
            "{} v{} (within {parent} v{})",
            l.name, l.version, l.parent_version
        ),
    }
}

/// A list's identity, for programs.
fn list_row(l: &proto::CodeList) -> Map<String, Value> {
    row([
        ("name", json!(l.name)),
        ("version", json!(l.version)),
        ("parent", output::text_or_null(&l.parent)),
        (
            "parent_version",
            if l.parent.is_empty() {
                Value::Null
            } else {
                json!(l.parent_version)
            },
        ),
        ("codes", json!(l.codes.len())),
    ])
}

/// One row per code list (its latest version), `codes` the number of codes.
impl Output for proto::ListCodeListsResponse {
    fn text(&self) -> String {
        self.code_lists
            .iter()
            .map(|l| format!("{}\t{} codes\n", title(l), l.codes.len()))
            .collect()
    }

    fn columns(&self) -> &'static [&'static str] {
        &["name", "version", "parent", "parent_version", "codes"]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.code_lists.iter().map(list_row).collect()
    }
}

/// CSV: one row per code, in the file format `ddc codelist create` reads.
/// JSON: `{name, version, parent, parent_version, codes: [{code, label,
/// label_en, parent}]}`.
impl Output for proto::CodeList {
    fn text(&self) -> String {
        describe(self)
    }

    fn columns(&self) -> &'static [&'static str] {
        &["code", "label", "label_en", "parent"]
    }

    fn rows(&self) -> Vec<Map<String, Value>> {
        self.codes
            .iter()
            .map(|c| {
                row([
                    ("code", json!(c.code)),
                    ("label", json!(c.label)),
                    ("label_en", output::text_or_null(&c.label_en)),
                    ("parent", output::text_or_null(&c.parent)),
                ])
            })
            .collect()
    }

    fn json(&self) -> Value {
        let mut r = list_row(self);
        r.insert("codes".into(), json!(self.rows()));
        Value::Object(r)
    }
}

fn describe(l: &proto::CodeList) -> String {
    let mut out = format!("{}\n", title(l));
    for c in &l.codes {
        out.push_str(&format!("  {}\t{}", c.code, c.label));
        if !c.label_en.is_empty() {
            out.push_str(&format!(" / {}", c.label_en));
        }
        if !c.parent.is_empty() {
            out.push_str(&format!("\t(in {})", c.parent));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<CodesFile> {
        parse_codes_csv(text.as_bytes())
    }

    #[test]
    fn a_file_with_optional_columns_in_any_order_is_read() {
        let f = parse("parent,code,label,label_en\nvo,havo,Havo,Senior general\nvo,vwo,Vwo,\n")
            .unwrap();
        assert_eq!(f.lines, [2, 3]);
        assert_eq!(f.codes[0].code, "havo");
        assert_eq!(f.codes[0].label_en, "Senior general");
        assert_eq!(f.codes[1].parent, "vo");
        assert_eq!(f.codes[1].label_en, "");
        let plain = parse("code,label\npo,Primair onderwijs\n").unwrap();
        assert_eq!(plain.codes[0].parent, "");
    }

    #[test]
    fn a_bad_row_is_reported_with_its_line_number_not_its_content() {
        let e = parse("code,label\npo,Primair\nvo,Voortgezet,extra\n").unwrap_err();
        let text = format!("{e:#}");
        assert!(text.starts_with("line 3:"), "{text}");
        assert!(text.contains("expected 2 fields, found 3"), "{text}");
        assert!(!text.contains("extra"), "{text}");
        let e = parse("code,label\npo,Primair\n,Zonder code\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: the code is missing");
    }

    #[test]
    fn a_header_without_code_and_label_or_with_strangers_is_refused() {
        let e = parse("code,naam\nx,y\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: column 2"), "{e}");
        let e = parse("code\nx\n").unwrap_err().to_string();
        assert!(e.contains("`code` and `label`"), "{e}");
        let e = parse("code,label,code\nx,y,z\n").unwrap_err().to_string();
        assert!(e.contains("`code` appears twice"), "{e}");
        let e = parse("code,label\n").unwrap_err().to_string();
        assert_eq!(e, "the file holds no codes");
    }
}
