//! Where MySQL and Redis are and how cachelens is tuned. One struct, [`ConnectionArgs`], names every setting
//! once, with its flag, its variable, its default and its check; clap layers them (flag, then variable, then
//! the TOML file of [`file`], then the default) and checks every value the same way whichever layer gave it.
//! Then [`resolve`] fills in what is still missing from AWS (CloudFormation stack outputs, Secrets Manager),
//! and each value remembers where it came from, so `cachelens config` can say.

use crate::error::{AppError, AppResult};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

pub(crate) mod aws;
mod discover;
pub mod file;

pub use file::FileLayer;

use crate::model::MAX_TTL_S;

/// The defaults of the tuning settings, for the flags and for anything that builds [`Resolved`] itself.
pub const DEFAULT_DB_POOL: u32 = 16;
pub const DEFAULT_REDIS_POOL: usize = 4;
pub const DEFAULT_TTL_S: u64 = 60;
pub const DEFAULT_SECRET_REFRESH_S: u64 = 900;

/// Connection settings as given. Flags and their environment variables are read by clap; the rest is looked
/// up by [`resolve`]. Values that may carry secrets are never echoed by --help.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// MySQL URL, e.g. mysql://user:password@127.0.0.1:3306/covid
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL: redis://, rediss:// (TLS), redis-cluster://, with optional user:password@
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// TOML file with any of these settings (snake_case keys); flags and environment win over it.
    #[arg(long, env = "CACHELENS_CONFIG")]
    pub config: Option<PathBuf>,
    /// CloudFormation stack whose outputs name the endpoints and the DB secret (the seed's or cachelens's).
    #[arg(long, env = "CACHELENS_STACK_NAME")]
    pub stack_name: Option<String>,
    /// Secrets Manager secret (name or ARN) with the DB username and password.
    #[arg(long, env = "CACHELENS_DB_SECRET")]
    pub db_secret: Option<String>,
    /// MySQL host, or host:port, when the URL is assembled from a secret.
    #[arg(long, env = "CACHELENS_DB_HOST")]
    pub db_host: Option<String>,
    #[arg(long, env = "CACHELENS_DB_PORT")]
    pub db_port: Option<u16>,
    #[arg(long, env = "CACHELENS_DB_NAME")]
    pub db_name: Option<String>,
    /// Redis host, or host:port, when no REDIS_URL is given.
    #[arg(long, env = "CACHELENS_REDIS_HOST")]
    pub redis_host: Option<String>,
    /// Connect to Redis with TLS (ElastiCache in-transit encryption).
    #[arg(long, env = "CACHELENS_REDIS_TLS")]
    pub redis_tls: Option<bool>,
    /// Redis cluster mode (ElastiCache configuration endpoint).
    #[arg(long, env = "CACHELENS_REDIS_CLUSTER")]
    pub redis_cluster: Option<bool>,
    /// Redis AUTH token.
    #[arg(long, env = "REDIS_AUTH_TOKEN", hide_env_values = true)]
    pub redis_auth_token: Option<String>,
    /// Secrets Manager secret holding the Redis AUTH token.
    #[arg(long, env = "CACHELENS_REDIS_AUTH_SECRET")]
    pub redis_auth_secret: Option<String>,
    /// AWS region for the lookups (otherwise the SDK's chain: AWS_REGION, profile, IMDSv2).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    #[command(flatten)]
    pub tuning: Tuning,
}

/// How cachelens connects and behaves once it knows where MySQL and Redis are: one struct for the flags (flattened
/// into [`ConnectionArgs`]) and the resolved settings, so `resolve` and `describe` do not list its fields.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct Tuning {
    /// Re-read the DB secret every this many seconds (0: only when MySQL refuses the login), so a rotated
    /// password is picked up before the pool needs it.
    #[arg(long, env = "CACHELENS_DB_SECRET_REFRESH", default_value_t = DEFAULT_SECRET_REFRESH_S)]
    pub db_secret_refresh: u64,
    /// PEM bundle of the CAs that may sign MySQL's certificate (on AWS, RDS's global bundle): connect over TLS
    /// and verify the certificate and the host name. Without it sqlx uses TLS when offered, unverified.
    #[arg(long, env = "CACHELENS_DB_CA_FILE")]
    pub db_ca_file: Option<PathBuf>,
    /// Create or update this MySQL user at start (the configured user must be allowed to, as RDS's master user
    /// is), with rights on the database only, and run every query as it: the master user then only sets up.
    #[arg(long, env = "CACHELENS_DB_APP_USER")]
    pub db_app_user: Option<String>,
    /// PEM file with the CA that signed the Redis server's certificate (private CAs; default: system roots).
    #[arg(long, env = "CACHELENS_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Largest number of MySQL connections the server opens.
    #[arg(long, env = "CACHELENS_DB_POOL", default_value_t = DEFAULT_DB_POOL, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_pool: u32,
    /// Number of multiplexed Redis connections.
    #[arg(long, env = "CACHELENS_REDIS_POOL", default_value_t = DEFAULT_REDIS_POOL, value_parser = at_least_one)]
    pub redis_pool: usize,
    /// Namespace of every key cachelens writes; Delete Cache removes `<prefix>:*` and nothing else.
    #[arg(long, env = "CACHELENS_CACHE_PREFIX", default_value = "cachelens", value_parser = parse_prefix)]
    pub cache_prefix: String,
    /// Seconds a cache entry lives when the request names no TTL.
    #[arg(long, env = "CACHELENS_TTL", default_value_t = DEFAULT_TTL_S, value_parser = clap::value_parser!(u64).range(1..=MAX_TTL_S))]
    pub cache_ttl: u64,
    /// Spread each fill's TTL randomly by up to this many percent, so entries filled together do not all
    /// expire together.
    #[arg(long, env = "CACHELENS_TTL_JITTER", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=50))]
    pub ttl_jitter: u8,
    /// Take a short Redis lock before filling a key, so several cachelens instances run one MySQL query per
    /// missing key between them (one instance always does; this extends it across instances).
    #[arg(long, env = "CACHELENS_FILL_LOCK")]
    pub fill_lock: bool,
    /// MySQL URL of a SELECT-only user for the custom SQL box (default: the main connection).
    #[arg(long, env = "CACHELENS_SQL_DATABASE_URL", hide_env_values = true)]
    pub sql_database_url: Option<String>,
    /// Without --sql-database-url: create or update this SELECT-only user at start (the main user must be
    /// allowed to create users, as RDS's master user is) and run custom SQL as it.
    #[arg(long, env = "CACHELENS_SQL_READONLY_USER", conflicts_with = "sql_database_url")]
    pub sql_readonly_user: Option<String>,
}

impl Default for Tuning {
    /// Every flag's default (the environment is not read).
    fn default() -> Self {
        use clap::FromArgMatches;
        let cmd = Tuning::augment_args(clap::Command::new("cachelens")).mut_args(|a| a.env(None::<&str>));
        Tuning::from_arg_matches(&cmd.get_matches_from(["cachelens"])).expect("every tuning flag has a default or is optional")
    }
}

/// The prefix becomes part of a SCAN pattern, so glob characters would widen what Delete Cache removes.
fn parse_prefix(s: &str) -> Result<String, &'static str> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Ok(s.to_string())
    } else {
        Err("use letters, digits, '-', '_' or '.' only")
    }
}

fn at_least_one(s: &str) -> Result<usize, &'static str> {
    s.parse::<usize>().ok().filter(|&n| n >= 1).ok_or("must be a whole number, at least 1")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag(String),
    Env(String),
    File(PathBuf),
    StackOutput {
        stack: String,
        key: String,
    },
    Secret(String),
    Default,
    /// Put together from other settings, named here.
    Assembled(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "flag --{name}"),
            Origin::Env(var) => write!(f, "environment {var}"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::StackOutput { stack, key } => write!(f, "stack {stack} output {key}"),
            Origin::Secret(id) => write!(f, "secret {id}"),
            Origin::Default => write!(f, "default"),
            Origin::Assembled(from) => write!(f, "{from}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// Everything `serve` and `load-data` need, resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub database_url: Setting<String>,
    /// The secret the database credentials were read from (re-read every `tuning.db_secret_refresh` seconds).
    pub db_secret: Option<String>,
    pub redis_url: Setting<String>,
    pub region: Option<Setting<String>>,
    pub stack_name: Option<Setting<String>>,
    pub tuning: Tuning,
}

impl Resolved {
    /// For `cachelens config`: every value with its source, passwords masked.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            line("database_url", &mask_password(&self.database_url.value), &self.database_url.origin),
            line("redis_url", &mask_password(&self.redis_url.value), &self.redis_url.origin),
        ];
        if let Some(secret) = &self.db_secret {
            lines.push(format!("{:<18} {secret}, re-read every {} s and on a refused login", "db_secret", self.tuning.db_secret_refresh));
        }
        for (name, given) in [("region", &self.region), ("stack_name", &self.stack_name)] {
            if let Some(s) = given {
                lines.push(line(name, &s.value, &s.origin));
            }
        }
        let tuning = serde_json::to_value(&self.tuning).expect("settings serialize");
        for (name, value) in tuning.as_object().into_iter().flatten() {
            let shown = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) if name.ends_with("_url") => mask_password(text),
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            lines.push(format!("{name:<18} {shown}"));
        }
        lines.join("\n")
    }
}

fn line(name: &str, value: &str, origin: &Origin) -> String {
    format!("{name:<18} {value}  ({origin})")
}

/// Keeps the user, hides the password (`mysql://admin:****@host/db`); a user alone may be a token, so it goes too.
/// Text that does not parse as a URL is not shown at all.
pub fn mask_password(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return "(not a valid URL)".into() };
    // Setting userinfo fails only on URLs that cannot hold one, which then had none to hide.
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username("****");
    }
    parsed.to_string()
}

/// Where a setting's value came from: the command line, its variable, the file, or none of them (`None`).
fn origin_of(id: &str, matches: Option<&ArgMatches>, file: Option<&FileLayer>) -> Option<Origin> {
    match matches.and_then(|m| m.value_source(id)) {
        Some(ValueSource::CommandLine) => Some(Origin::Flag(id.replace('_', "-"))),
        Some(ValueSource::EnvVariable) => Some(Origin::Env(env_name(id))),
        _ => file.filter(|f| f.keys.contains(id)).map(|f| Origin::File(f.path.clone())),
    }
}

/// The environment variable of the flag `id`, as its `#[arg(env)]` names it.
fn env_name(id: &str) -> String {
    let cmd = ConnectionArgs::augment_args(clap::Command::new("cachelens"));
    let name = cmd.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned());
    name.unwrap_or_default()
}

/// A given optional setting, with where it came from (without matches, as a library caller, a flag).
fn setting<T: Clone>(id: &str, value: &Option<T>, matches: Option<&ArgMatches>, file: Option<&FileLayer>) -> Option<Setting<T>> {
    let origin = origin_of(id, matches, file).unwrap_or_else(|| Origin::Flag(id.replace('_', "-")));
    value.clone().map(|value| Setting { value, origin })
}

/// Resolves the connection settings: `args` as clap layered them (`matches`, the subcommand's, and the `file`
/// layer tell where each came from). AWS is contacted only when they leave a connection open.
pub async fn resolve(args: &ConnectionArgs, matches: Option<&ArgMatches>, file: Option<&FileLayer>) -> AppResult<Resolved> {
    let given = |id: &str, value: &Option<String>| setting(id, value, matches, file);
    let database_url = given("database_url", &args.database_url);
    let redis_url = given("redis_url", &args.redis_url);
    let stack_name = given("stack_name", &args.stack_name);
    let db_secret = given("db_secret", &args.db_secret);
    let db_host = given("db_host", &args.db_host);
    let db_port = setting("db_port", &args.db_port, matches, file);
    let db_name = given("db_name", &args.db_name);
    let redis_host = given("redis_host", &args.redis_host);
    let redis_tls = setting("redis_tls", &args.redis_tls, matches, file);
    let redis_cluster = setting("redis_cluster", &args.redis_cluster, matches, file);
    let auth_token = given("redis_auth_token", &args.redis_auth_token);
    let auth_secret = given("redis_auth_secret", &args.redis_auth_secret);
    let region = given("region", &args.region);

    let found = discover::connections(discover::Given {
        database_url,
        redis_url,
        stack_name: stack_name.clone(),
        db_secret,
        db_host,
        db_port,
        db_name,
        redis_host,
        redis_tls,
        redis_cluster,
        auth_token,
        auth_secret,
        region,
    })
    .await?;
    let (database_url, db_secret, redis_url, region) = (found.database_url, found.db_secret, found.redis_url, found.region);

    // Said once here because it spans two settings; every single value was checked by its parser.
    if args.tuning.sql_database_url.is_some() && args.tuning.sql_readonly_user.is_some() {
        return Err(AppError::Invalid("give sql_database_url or sql_readonly_user, not both".into()));
    }
    Ok(Resolved { database_url, db_secret, redis_url, region, stack_name, tuning: args.tuning.clone() })
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CACHELENS_ADDR", default_value = "127.0.0.1:8008")]
    pub addr: SocketAddr,
    /// Require this token for every page and API (a bearer header, or a session from /login). Without one,
    /// serve refuses any address but loopback unless --allow-anonymous.
    #[arg(long, env = "CACHELENS_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,
    /// Secrets Manager secret holding the access token (plain, or JSON with `token`/`password`).
    #[arg(long, env = "CACHELENS_ACCESS_TOKEN_SECRET", conflicts_with = "access_token")]
    pub access_token_secret: Option<String>,
    /// Answer only requests that carry this value in the X-Origin-Verify header (the stack's CloudFront adds
    /// it), so nobody reaches the instance around the distribution. Loopback peers are exempt.
    #[arg(long, env = "CACHELENS_ORIGIN_SECRET", hide_env_values = true)]
    pub origin_secret: Option<String>,
    /// Secrets Manager secret holding the origin secret (plain, or JSON with `token`/`password`).
    #[arg(long, env = "CACHELENS_ORIGIN_SECRET_SECRET", conflicts_with = "origin_secret")]
    pub origin_secret_secret: Option<String>,
    /// Serve a non-loopback address without an access token (behind your own authentication, say).
    #[arg(long, env = "CACHELENS_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Folder holding the built site (pkg/cachelens.js, .wasm, .css and the public assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_users_kept() {
        assert_eq!(mask_password("mysql://admin:s3cr:et@db:3306/covid"), "mysql://admin:****@db:3306/covid");
        assert_eq!(mask_password("rediss://:tok@cache:6379"), "rediss://:****@cache:6379");
        assert_eq!(mask_password("redis://cache:6379"), "redis://cache:6379");
    }

    /// The command line `argv` (after the program name) with `file` as its config, as `cachelens` parses it but
    /// for the environment: the test process has DATABASE_URL and friends of its own.
    fn parse(file: &std::path::Path, argv: &[&str]) -> AppResult<(ConnectionArgs, clap::ArgMatches, Option<FileLayer>)> {
        use clap::{Command, FromArgMatches};
        let argv: Vec<std::ffi::OsString> =
            [&["cachelens", "--config", file.to_str().unwrap()], argv].concat().into_iter().map(Into::into).collect();
        let cmd = ConnectionArgs::augment_args(Command::new("cachelens")).mut_args(|a| a.env(None::<&str>));
        let (cmd, layer) = file::apply(cmd, &argv)?;
        let matches = cmd.try_get_matches_from(argv).map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok((ConnectionArgs::from_arg_matches(&matches).unwrap(), matches, layer))
    }

    #[tokio::test]
    async fn flags_win_over_the_file_and_unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("cachelens-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "database_url = \"mysql://f:pw@file/db\"\nredis_url = \"redis://file:1\"\n").unwrap();
        let (args, matches, layer) = parse(&file, &["--redis-url", "redis://flag:2"]).unwrap();
        let r = resolve(&args, Some(&matches), layer.as_ref()).await.unwrap();
        assert_eq!(r.database_url.value, "mysql://f:pw@file/db");
        assert_eq!(r.database_url.origin, Origin::File(file.clone()));
        assert_eq!((r.redis_url.value.as_str(), &r.redis_url.origin), ("redis://flag:2", &Origin::Flag("redis-url".into())));
        assert!(!r.describe().contains("pw@"), "{}", r.describe());

        std::fs::write(&file, "databse_url = \"mysql://x:hunter2@h/d\"\n").unwrap();
        let err = parse(&file, &[]).unwrap_err();
        let err = err.to_string();
        assert!(err.contains("unknown field") && !err.contains("hunter2"), "{err}");
    }

    /// A file key whose flag conflicts with another (sql_readonly_user, sql_database_url) is checked and used
    /// like any other; naming both is refused once, whichever layers gave them.
    #[tokio::test]
    async fn a_flag_with_conflicts_can_come_from_the_file() {
        let dir = std::env::temp_dir().join(format!("cachelens-conflicts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "database_url = \"mysql://u:pw@db/covid\"\nsql_readonly_user = \"reader\"\n").unwrap();
        let (args, matches, layer) = parse(&file, &[]).unwrap();
        let r = resolve(&args, Some(&matches), layer.as_ref()).await.unwrap();
        assert_eq!(r.tuning.sql_readonly_user.as_deref(), Some("reader"));
        let (args, matches, layer) = parse(&file, &["--sql-database-url", "mysql://r:p@db/covid"]).unwrap();
        let err = resolve(&args, Some(&matches), layer.as_ref()).await.unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn tuning_comes_from_the_file_unless_a_flag_or_variable_is_given() {
        let dir = std::env::temp_dir().join(format!("cachelens-tuning-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        let urls = "database_url = \"mysql://u:pw@db/covid\"\nredis_url = \"redis://cache:6379\"\n";
        std::fs::write(
            &file,
            format!("{urls}db_pool = 3\ncache_ttl = 120\nttl_jitter = 10\nfill_lock = true\ncache_prefix = \"team-a\"\n"),
        )
        .unwrap();
        let (args, matches, layer) = parse(&file, &["--cache-ttl", "30"]).unwrap();
        let r = resolve(&args, Some(&matches), layer.as_ref()).await.unwrap();
        let t = &r.tuning;
        assert_eq!((t.db_pool, t.redis_pool, t.cache_ttl, t.ttl_jitter, t.fill_lock), (3, 4, 30, 10, true));
        assert_eq!(t.cache_prefix, "team-a");

        for (line, named) in [
            ("cache_prefix = \"a*\"", "cache_prefix"),
            ("cache_ttl = 0", "cache_ttl"),
            ("ttl_jitter = 60", "ttl_jitter"),
            ("db_pool = 0", "db_pool"),
            ("fill_lock = \"maybe\"", "fill_lock"),
        ] {
            std::fs::write(&file, format!("{urls}{line}\n")).unwrap();
            let err = parse(&file, &[]).unwrap_err();
            let err = err.to_string();
            assert!(err.contains(named) && err.contains("c.toml"), "{line}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
