//! The `cachelens` command line.

use crate::error::{AppError, AppResult};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::model::QueryPath;
use crate::server::config::{resolve, ConnectionArgs, Resolved, ServeArgs};

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
}

#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// Strategies to run, in any order: none, ttl, invalidate, write_through, refresh_ahead.
    #[arg(long, value_delimiter = ',', default_value = "none,ttl,invalidate,write_through,refresh_ahead")]
    pub strategies: Vec<String>,
    /// Items in the lab table (1–1000000).
    #[arg(long, default_value_t = 1000)]
    pub items: u32,
    /// Zipf exponent of item popularity (0 uniform – 1.5).
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Share of operations that are reads (0–1).
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// Concurrent workers (1–64).
    #[arg(long, default_value_t = 8)]
    pub concurrency: u32,
    /// Seconds each strategy runs (1–600).
    #[arg(long, conflicts_with = "operations")]
    pub seconds: Option<u32>,
    /// Operations each strategy runs, instead of a duration.
    #[arg(long)]
    pub operations: Option<u64>,
    /// TTL of the entries, seconds.
    #[arg(long, default_value_t = 5)]
    pub ttl: u64,
    /// TTLs for a sweep of ttl and refresh_ahead, e.g. 1,2,5,10.
    #[arg(long, value_delimiter = ',')]
    pub ttls: Option<Vec<u64>>,
    /// Last part of the TTL in which refresh_ahead refreshes a hit entry (0.01–0.99).
    #[arg(long, default_value_t = 0.2)]
    pub refresh_fraction: f64,
    /// Seed of the workload: the same seed gives the same operations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// Measured requests per path (1–100000).
    #[arg(long, default_value_t = 1000)]
    pub iterations: u32,
    /// Concurrent workers (1–64).
    #[arg(long, default_value_t = 8)]
    pub concurrency: u32,
    /// The paths to measure, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [QueryPath::Mysql, QueryPath::Cache])]
    pub path: Vec<QueryPath>,
    /// Unrecorded requests per path first (for the cache path they fill Redis).
    #[arg(long, default_value_t = 10)]
    pub warmup: u32,
    /// TTL of the entries the cache path writes, in seconds.
    #[arg(long, default_value_t = 300)]
    pub ttl: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
            Ok(resolved) => bench(args, resolved).await,
            Err(e) => Err(e),
        },
        Command::Lab(args) => match resolve(&args.connections, sub, file.as_ref()).await {
            Ok(resolved) => lab(args, resolved).await,
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
    let db = dataset::connect_creating(&resolved.database_url.value, resolved.db_ca_file.as_deref()).await?;
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

async fn bench(args: BenchArgs, resolved: Resolved) -> AppResult<()> {
    use crate::bench::{BenchSpec, BenchState};
    use crate::server::bench;

    let spec = BenchSpec { warmup: args.warmup, ttl: args.ttl, ..BenchSpec::new(args.iterations, args.concurrency, args.path) };
    let run = bench::standalone(spec)?;
    let state = crate::server::startup::connect(&resolved).await?;
    let task = tokio::spawn(bench::execute(state, run.clone()));
    // Progress on stderr, so stdout holds only the result.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    while !task.is_finished() {
        tokio::select! {
            _ = tick.tick() => {
                let r = run.report();
                eprintln!("{} / {} requests, {:.1} s", r.done, r.total, r.elapsed_ms as f64 / 1000.0);
            }
            _ = tokio::signal::ctrl_c() => run.cancel(),
            _ = run.wait() => {}
        }
    }
    let report = run.report();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        println!("{}", table(&report));
    }
    match report.state {
        BenchState::Failed => Err(AppError::Internal(report.error.unwrap_or_else(|| "the benchmark failed".into()))),
        _ => Ok(()),
    }
}

async fn lab(args: LabArgs, resolved: Resolved) -> AppResult<()> {
    use crate::lab::{LabSpec, LabState, Strategy};
    let strategies = args.strategies.iter().map(|s| Strategy::parse(s)).collect::<AppResult<Vec<_>>>()?;
    let spec = LabSpec {
        strategies,
        items: args.items,
        zipf: args.zipf,
        read_ratio: args.read_ratio,
        concurrency: args.concurrency,
        seconds: args.seconds,
        operations: args.operations,
        ttl: args.ttl,
        ttls: args.ttls,
        refresh_fraction: args.refresh_fraction,
        seed: args.seed,
    };
    let run = crate::server::lab::standalone(spec)?;
    let state = crate::server::startup::connect(&resolved).await?;
    let task = tokio::spawn(crate::server::lab::execute(state, run.clone()));
    // Progress on stderr, so stdout holds only the result.
    let bar = indicatif::ProgressBar::new(run.report().total);
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {msg}").expect("a valid template"));
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    while !task.is_finished() {
        tokio::select! {
            _ = tick.tick() => {
                let r = run.report();
                bar.set_position(r.done);
                bar.set_message(r.phase);
            }
            _ = tokio::signal::ctrl_c() => run.cancel(),
            _ = run.wait() => {}
        }
    }
    bar.finish_and_clear();
    let report = run.report();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        println!("{}", crate::lab::table(&report));
    }
    match report.state {
        LabState::Failed => Err(AppError::Internal(report.error.unwrap_or_else(|| "the lab run failed".into()))),
        _ => Ok(()),
    }
}

/// The percentile table the page shows, as text.
fn table(report: &crate::bench::BenchReport) -> String {
    use crate::stats::{format_us, one_decimal};
    let mut out = format!(
        "{} requests per path, concurrency {}, warm-up {}: {:?} in {} s\n{:<6} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}\n",
        report.spec.iterations,
        report.spec.concurrency,
        report.spec.warmup,
        report.state,
        one_decimal(report.elapsed_ms as f64 / 1000.0),
        "path",
        "requests",
        "errors",
        "p50",
        "p95",
        "p99",
        "max"
    );
    for p in &report.paths {
        let s = p.stats.unwrap_or_default();
        out.push_str(&format!(
            "{:<6} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10}\n",
            p.path.key(),
            s.count,
            p.errors,
            format_us(s.p50_us),
            format_us(s.p95_us),
            format_us(s.p99_us),
            format_us(s.max_us)
        ));
    }
    if let Some(x) = report.speedup() {
        out.push_str(&format!("speedup (MySQL p50 / cache p50): {}x\n", one_decimal(x)));
    }
    out
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
