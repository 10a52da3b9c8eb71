//! The `cachelens` command line.

use crate::error::{AppError, AppResult};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::server::config::{resolve, ConnectionArgs, Resolved, ServeArgs};
use crate::server::state::runs::{Run, RunReport};

#[derive(Parser, Debug)]
#[command(name = "cachelens", version, about = "Measure how much a Redis cache accelerates MySQL")]
pub struct Cli {
    /// Log lines as text for people or as JSON objects for log pipelines.
    #[arg(long, global = true, env = "CACHELENS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the dashboard and the JSON API.
    Serve(ServeArgs),
    /// Create the database and the articles table if needed and load a CSV (or generated rows) into it.
    LoadData(LoadDataArgs),
    /// Print the resolved configuration, secrets masked, and where each value came from.
    Config(ConfigArgs),
    /// Run the benchmark of the dashboard here, against the configured MySQL and Redis, and print its table.
    Bench(BenchArgs),
    /// Run the strategy lab here: a skewed read/write workload under each caching strategy, side by side.
    Lab(LabArgs),
    /// The kept benchmark and lab runs (the run history in MySQL): list, show, compare.
    Runs(RunsArgs),
}

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub spec: crate::lab::LabSpec,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(flatten)]
    pub spec: crate::bench::BenchSpec,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    #[command(subcommand)]
    pub action: RunsAction,
}

#[derive(Subcommand, Debug)]
pub enum RunsAction {
    /// The kept runs, newest first.
    List {
        /// Only runs of this kind (bench, lab).
        #[arg(long)]
        kind: Option<String>,
        /// Page of the list, from 0.
        #[arg(long, default_value_t = 0)]
        page: u32,
        #[arg(long, default_value_t = 20)]
        per_page: u32,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run's report, as a table, JSON or CSV.
    Show {
        id: u64,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// Two runs of one kind side by side, with the difference per metric (B against A).
    Compare {
        a: u64,
        b: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

#[derive(Args, Debug)]
pub struct LoadDataArgs {
    /// Where MySQL is (the database is created when missing); Redis settings are accepted and unused.
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// CSV in the seed's format (header row, the 13 seed columns).
    #[arg(long, conflicts_with = "generate")]
    pub csv: Option<PathBuf>,
    /// Write this many deterministic synthetic rows to a CSV and load that.
    #[arg(long)]
    pub generate: Option<u64>,
    /// Seed for --generate: the same seed and count give the same bytes.
    #[arg(long, default_value_t = 2021, requires = "generate")]
    pub seed: u64,
    /// Where --generate writes its CSV (default: the system temp folder).
    #[arg(long, requires = "generate")]
    pub out: Option<PathBuf>,
    /// Reload even when this exact source is already loaded.
    #[arg(long)]
    pub force: bool,
}

pub async fn main() -> ExitCode {
    let argv = arguments(std::env::args_os().collect());
    let (command, file) = match crate::server::config::file::apply(Cli::command(), &argv) {
        Ok(layered) => layered,
        Err(e) => {
            eprintln!("cachelens: {e}");
            return ExitCode::FAILURE;
        }
    };
    let matches = command.get_matches_from(argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_tracing(cli.log_format);
    let sub = matches.subcommand().map(|(_, m)| m);
    let outcome = match cli.command {
        Command::Serve(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => crate::server::http::serve(args, resolved).await,
            Err(e) => Err(e),
        },
        Command::LoadData(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => load_data(args, resolved).await,
            Err(e) => Err(e),
        },
        Command::Config(args) => resolve(&args.connections, sub, file.as_ref()).await.map(|r| println!("{}", r.describe())),
        Command::Bench(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => follow::<crate::server::bench::BenchRun>(args.spec, args.json, resolved).await,
            Err(e) => Err(e),
        },
        Command::Lab(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => follow::<crate::server::lab::LabRun>(args.spec, args.json, resolved).await,
            Err(e) => Err(e),
        },
        Command::Runs(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => runs(args.action, resolved).await,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cachelens: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo leptos watch` starts the binary with no arguments at all; under it (LEPTOS_* variables set) that
/// means `serve`, on the address cargo-leptos announces (LEPTOS_SITE_ADDR) unless CACHELENS_ADDR says
/// otherwise. Run by hand with no arguments, cachelens prints its help as before.
fn arguments(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.len() == 1 && std::env::var_os("LEPTOS_OUTPUT_NAME").is_some() {
        args.push("serve".into());
        if let (None, Some(addr)) = (std::env::var_os("CACHELENS_ADDR"), std::env::var_os("LEPTOS_SITE_ADDR")) {
            args.extend(["--addr".into(), addr]);
        }
    }
    args
}

async fn load_data(args: LoadDataArgs, resolved: Resolved) -> AppResult<()> {
    use crate::server::loader::{csv_load, dataset, generate, progress::Progress};

    let path = match args.generate {
        Some(rows) => {
            let out = args.out.unwrap_or_else(|| std::env::temp_dir().join(format!("cachelens-{rows}-rows-seed-{}.csv", args.seed)));
            let file = std::fs::File::create(&out).map_err(|e| AppError::Invalid(format!("{}: {e}", out.display())))?;
            let mut writer = std::io::BufWriter::new(file);
            generate::write_articles(&mut writer, rows, args.seed).map_err(|e| AppError::Invalid(format!("{}: {e}", out.display())))?;
            std::io::Write::flush(&mut writer).map_err(|e| AppError::Invalid(format!("{}: {e}", out.display())))?;
            println!("generated {rows} rows (seed {}) into {}", args.seed, out.display());
            out
        }
        None => args.csv.unwrap_or_else(csv_load::default_sample),
    };
    let db = dataset::connect_creating(&resolved.database_url.value, resolved.tuning.db_ca_file.as_deref()).await?;
    let started = std::time::Instant::now();
    let report = csv_load::load_csv(&db, &path, args.force, &mut Progress::for_stdout()).await?;
    if report.loaded {
        let secs = started.elapsed().as_secs_f64();
        println!("loaded {} rows from {} in {secs:.1} s ({:.0} rows/s)", report.rows, report.source, report.rows as f64 / secs.max(1e-3));
    } else {
        println!("{} is already loaded ({} rows); nothing to do (use --force to reload)", report.source, report.rows);
    }
    Ok(())
}

/// Runs `spec` here, against the configured services, with a progress bar on stderr (so stdout holds only the
/// result); Ctrl-C cancels and still prints what was measured. The run is not kept in the history: that is the
/// server's (start it through the API to keep it).
async fn follow<R: Run>(spec: R::Spec, json: bool, resolved: Resolved) -> AppResult<()> {
    let run = crate::server::state::runs::standalone::<R>(spec)?;
    let state = crate::server::startup::connect(&resolved).await?;
    let task = tokio::spawn(R::execute(state, run.clone()));
    let bar = indicatif::ProgressBar::new(run.report().progress().1);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("a valid template"));
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    while !task.is_finished() {
        tokio::select! {
            _ = tick.tick() => {
                let (done, _, what) = run.report().progress();
                bar.set_position(done);
                bar.set_message(what);
            }
            _ = tokio::signal::ctrl_c() => run.core().cancel(),
            _ = run.core().wait() => {}
        }
    }
    bar.finish_and_clear();
    let report = run.report();
    print_report(&report, json);
    match report.failure() {
        Some(why) => Err(AppError::Internal(why)),
        None => Ok(()),
    }
}

fn print_report<T: RunReport>(report: &T, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).expect("reports serialize"));
    } else {
        println!("{}", report.table());
    }
}

/// `cachelens runs`: reads the run history the servers on this database keep.
async fn runs(action: RunsAction, resolved: Resolved) -> AppResult<()> {
    use crate::server::bench::BenchRun;
    use crate::server::lab::LabRun;
    use crate::server::state::run_history::RunSummary;

    let state = crate::server::startup::connect(&resolved).await?;
    match action {
        RunsAction::List { kind, page, per_page, json } => {
            let rows = state.history.list(&state.db, kind.as_deref(), page, per_page).await?;
            let summaries: Vec<RunSummary> = rows.iter().map(RunSummary::from).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&summaries).expect("summaries serialize"));
            } else {
                println!("{:<18} {:<6} {:<10} {:<22} spec", "id", "kind", "state", "started");
                for row in &rows {
                    println!(
                        "{:<18} {:<6} {:<10} {:<22} {}",
                        row.id,
                        row.kind,
                        row.state,
                        crate::stats::utc_minute(row.started_at_ms),
                        row.spec
                    );
                }
            }
        }
        RunsAction::Show { id, json, csv } => {
            let kind = crate::server::http::runs::kind_of(&state, id).await?;
            match kind {
                BenchRun::KIND => show::<BenchRun>(&state, id, json, csv).await?,
                _ => show::<LabRun>(&state, id, json, csv).await?,
            }
        }
        RunsAction::Compare { a, b, json } => {
            let kind = crate::server::http::runs::kind_of(&state, a).await?;
            let comparison = crate::server::http::runs::compare_of_kind(&state, kind, a, b).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&comparison).expect("comparisons serialize"));
            } else {
                println!("{kind} run {a} (A) against {b} (B)");
                println!("{:<28} {:<32} {:>12} {:>12} {:>10}", "", "metric", "A", "B", "B vs A");
                for r in &comparison.rows {
                    println!("{:<28} {:<32} {:>12} {:>12} {:>10}", r.group, r.metric, r.a, r.b, r.change);
                }
            }
        }
    }
    Ok(())
}

async fn show<R: Run>(state: &crate::server::state::AppState, id: u64, json: bool, csv: bool) -> AppResult<()> {
    let report = crate::server::http::runs::find::<R>(state, id).await?.report();
    if csv {
        print!("{}", report.to_csv());
    } else {
        print_report(&report, json);
    }
    Ok(())
}

/// Logs go to stderr; `RUST_LOG` filters them (`RUST_LOG=cachelens=debug` adds one line per request).
fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,fred=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}
