//! The TOML file (`--config`, `CACHELENS_CONFIG`) as one more layer of clap's: each key names a flag (its id,
//! the field's snake_case name), and its value becomes that flag's default before the command line is parsed.
//! So flags and variables win over the file, the file over the built-in default, and every value is checked
//! once, by the flag's own parser, whichever layer it came from.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::builder::Resettable::Reset;
use clap::Command;

use crate::error::{AppError, AppResult};

/// Which keys the file set, so `cachelens config` can say a value came from it.
#[derive(Clone, Debug, Default)]
pub struct FileLayer {
    pub path: PathBuf,
    pub keys: BTreeSet<String>,
}

/// `cmd` with the file's values as defaults, in it and every subcommand that has the flag; `None` for the layer
/// when no file is named. An unknown key or a bad value is refused with the file and the key, never the value.
pub fn apply(cmd: Command, argv: &[OsString]) -> AppResult<(Command, Option<FileLayer>)> {
    let Some(path) = named_file(argv) else { return Ok((cmd, None)) };
    let text = std::fs::read_to_string(&path).map_err(|e| AppError::Invalid(format!("config file {}: {e}", path.display())))?;
    let in_file = |problem: String| AppError::Invalid(format!("config file {}: {problem}", path.display()));
    // toml's messages quote the offending line, which could hold a secret; name the position only.
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| format!(" at byte {}", s.start)).unwrap_or_default();
        in_file(format!("not valid{at}: {}", e.message()))
    })?;
    let mut cmd = cmd;
    let mut keys = BTreeSet::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(in_file(format!("{key}: give a string, a whole number or true/false"))),
        };
        cmd = set_default(cmd, &key, &value, &in_file)?.ok_or_else(|| in_file(format!("unknown field `{key}`")))?;
        keys.insert(key);
    }
    Ok((cmd, Some(FileLayer { path, keys })))
}

/// Sets `key`'s default in `cmd` and its subcommands; `None` when none of them has such a flag.
fn set_default(mut cmd: Command, key: &str, value: &str, in_file: &dyn Fn(String) -> AppError) -> AppResult<Option<Command>> {
    let mut found = false;
    let arg = cmd.get_arguments().find(|a| a.get_id() == key && a.get_long().is_some()).cloned();
    if let Some(arg) = arg {
        check(&arg, value).map_err(|why| in_file(format!("{key}: {why}")))?;
        // Hidden from --help, which would otherwise print a file's secrets as defaults (a switch's is true/false).
        let hide = arg.get_action().takes_values();
        cmd = cmd.mut_arg(key, |a| a.default_value(value.to_string()).hide_default_value(hide));
        found = true;
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let mut outcome = Ok(None);
        cmd = cmd.mut_subcommand(&name, |sub| {
            outcome = set_default(sub.clone(), key, value, in_file);
            match &outcome {
                Ok(Some(changed)) => changed.clone(),
                _ => sub,
            }
        });
        found |= outcome?.is_some();
    }
    Ok(found.then_some(cmd))
}

/// The value through the flag's own parser (alone in a command of its own): the same check a flag or variable
/// with this value gets. A switch (a flag without a value) takes true or false.
fn check(arg: &clap::Arg, value: &str) -> AppResult<()> {
    if !arg.get_action().takes_values() {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err(AppError::Invalid(format!("must be true or false, not {value:?}"))),
        };
    }
    let long = format!("--{}", arg.get_long().unwrap_or_default());
    // Alone in the probe, the flag keeps its parser but not its ties to flags the probe lacks (clap asserts them).
    let alone = arg.clone().required(false).conflicts_with(Reset).requires(Reset).overrides_with(Reset);
    let probe = Command::new("cachelens").no_binary_name(true).arg(alone);
    probe.try_get_matches_from([OsStr::new(&long), OsStr::new(value)]).map(|_| ()).map_err(|e| AppError::Invalid(clap_reason(&e)))
}

/// clap's message without its "error:" prefix and usage lines.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_string()
}

/// `--config FILE` or `--config=FILE` on the command line, else `CACHELENS_CONFIG`.
fn named_file(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(Path::new(path).to_path_buf());
        }
    }
    std::env::var_os("CACHELENS_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}
