//! `ddc serve --config FILE`: settings from a TOML file.
//!
//! Every flag of `ddc serve` is a setting: its long name with `_` for `-`
//! (`data_dir`, `tls_cert`, `threshold`, `deny_serial`, …). A setting from
//! the file applies unless its environment variable (`DDC_…`, shown by
//! `ddc serve --help`) or its flag is given: flag, then environment, then
//! file, then default. An unknown key, or a value of the wrong shape, is an
//! error naming the key.
//!
//! The file's settings become flags placed before the command line's, so
//! that one parser checks every value and the command line's win.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context};
use clap::CommandFactory;

/// The command line with the settings of `ddc serve --config FILE` (or
/// `DDC_CONFIG`) inserted after `serve`; other command lines unchanged.
pub fn expand_config(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let Some(serve) = args.iter().position(|a| a == "serve") else {
        return Ok(args);
    };
    let Some(path) = config_path(&args[serve + 1..]) else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the configuration {}", path.display()))?;
    let settings = settings_of(&text, &path)?;
    let mut out: Vec<OsString> = args[..=serve].to_vec();
    out.extend(settings.into_iter().map(OsString::from));
    out.extend(args[serve + 1..].iter().cloned());
    Ok(out)
}

/// `--config FILE`, `--config=FILE`, or `DDC_CONFIG`.
fn config_path(args: &[OsString]) -> Option<std::path::PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(Into::into);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(path.into());
        }
    }
    std::env::var_os("DDC_CONFIG").map(Into::into)
}

/// The flags the file's settings stand for, skipping those whose
/// environment variable is set.
fn settings_of(text: &str, path: &Path) -> anyhow::Result<Vec<String>> {
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("the configuration {} is not valid TOML", path.display()))?;
    let cli = super::Cli::command();
    let serve = cli.find_subcommand("serve").context("no serve command")?;
    let mut flags = Vec::new();
    for (key, value) in &table {
        let arg = serve
            .get_arguments()
            .find(|a| {
                a.get_long()
                    .is_some_and(|long| long != "config" && long.replace('-', "_") == *key)
            })
            .with_context(|| {
                format!(
                    "unknown setting `{key}` in {} (see ddc serve --help)",
                    path.display()
                )
            })?;
        if arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some())
        {
            continue;
        }
        let long = format!("--{}", arg.get_long().unwrap_or_default());
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        match value {
            toml::Value::Boolean(set) if !takes_value => {
                if *set {
                    flags.push(long);
                }
            }
            toml::Value::Array(items) => {
                let values = items
                    .iter()
                    .map(|v| scalar(key, v))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                if values.is_empty() {
                    continue;
                }
                if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                    // `--magnitude-noise MIN MAX`: one argument per value.
                    flags.push(long);
                    flags.extend(values);
                } else {
                    flags.push(format!("{long}={}", values.join(",")));
                }
            }
            other => flags.push(format!("{long}={}", scalar(key, other)?)),
        }
    }
    Ok(flags)
}

fn scalar(key: &str, value: &toml::Value) -> anyhow::Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => bail!("setting `{key}`: give a string, a number, a boolean or a list of them"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(file: &str, line: &[&str]) -> anyhow::Result<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ddc.toml");
        std::fs::write(&path, file).unwrap();
        let mut args: Vec<OsString> = vec!["ddc".into(), "serve".into()];
        args.push("--config".into());
        args.push(path.clone().into());
        args.extend(line.iter().map(OsString::from));
        Ok(expand_config(args)?
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn settings_become_flags_before_the_command_line() {
        let got = expanded(
            "threshold = 15\ndeny_serial = [\"1f\", \"2a\"]\nno_perturbation = true\nmagnitude_noise = [0.1, 0.2]\n",
            &["--threshold", "20"],
        )
        .unwrap();
        let i = got.iter().position(|a| a == "--threshold=15").unwrap();
        let j = got.iter().position(|a| a == "--threshold").unwrap();
        assert!(i < j, "the command line comes later and wins: {got:?}");
        assert!(got.contains(&"--deny-serial=1f,2a".to_owned()), "{got:?}");
        assert!(got.contains(&"--no-perturbation".to_owned()), "{got:?}");
        let at = got.iter().position(|a| a == "--magnitude-noise").unwrap();
        assert_eq!(got[at + 1..at + 3], ["0.1", "0.2"], "{got:?}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let e = expanded("treshold = 15\n", &[]).unwrap_err();
        assert!(e.to_string().contains("unknown setting `treshold`"), "{e}");
        let e = expanded("threshold = { a = 1 }\n", &[]).unwrap_err();
        assert!(e.to_string().contains("setting `threshold`"), "{e}");
        assert!(expanded("threshold = \n", &[]).is_err());
        assert!(expanded("config = \"other.toml\"\n", &[]).is_err());
    }

    #[test]
    fn the_shipped_example_names_only_real_settings_with_valid_values() {
        use clap::Parser;
        let example = include_str!("../../deploy/ddc.toml");
        let args = expanded(example, &[]).unwrap();
        assert!(
            args.iter()
                .any(|a| a == "--tls-cert=/etc/ddc/tls/server.pem"),
            "{args:?}"
        );
        super::super::Cli::try_parse_from(&args).unwrap();
    }

    #[test]
    fn other_commands_are_left_alone() {
        let args: Vec<OsString> = vec!["ddc".into(), "demo".into()];
        assert_eq!(expand_config(args.clone()).unwrap(), args);
    }
}
