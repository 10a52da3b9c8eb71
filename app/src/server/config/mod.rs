//! Where MySQL and Redis are, resolved from (in order) command-line flags, environment variables, an optional
//! TOML file, and AWS: CloudFormation stack outputs and Secrets Manager. Each value remembers where it came
//! from, so `cachelens config` can say.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

pub mod aws;

use crate::model::MAX_TTL_S;

/// The defaults of the tuning settings, for the flags and for anything that builds [`Resolved`] itself.
pub const DEFAULT_DB_POOL: u32 = 16;
pub const DEFAULT_REDIS_POOL: usize = 4;
pub const DEFAULT_TTL_S: u64 = 60;

/// Connection settings as given. Flags and their environment variables are read by clap; the rest is looked
/// up by [`resolve`]. Values that may carry secrets are never echoed by --help.
#[derive(Args, Debug, Clone, Default)]
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
    /// PEM file with the CA that signed the Redis server's certificate (private CAs; default: system roots).
    #[arg(long, env = "CACHELENS_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Secrets Manager secret holding the Redis AUTH token.
    #[arg(long, env = "CACHELENS_REDIS_AUTH_SECRET")]
    pub redis_auth_secret: Option<String>,
    /// AWS region for the lookups (otherwise the SDK's chain: AWS_REGION, profile, IMDSv2).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Largest number of MySQL connections the server opens.
    #[arg(long, env = "CACHELENS_DB_POOL", default_value_t = DEFAULT_DB_POOL)]
    pub db_pool: u32,
    /// Number of multiplexed Redis connections.
    #[arg(long, env = "CACHELENS_REDIS_POOL", default_value_t = DEFAULT_REDIS_POOL)]
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

/// The prefix becomes part of a SCAN pattern, so glob characters would widen what Delete Cache removes.
fn parse_prefix(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        Ok(s.to_string())
    } else {
        Err("use letters, digits, '-', '_' or '.' only".into())
    }
}

/// The TOML file: the same names as the flags.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    redis_url: Option<String>,
    stack_name: Option<String>,
    db_secret: Option<String>,
    db_host: Option<String>,
    db_port: Option<u16>,
    db_name: Option<String>,
    redis_host: Option<String>,
    redis_tls: Option<bool>,
    redis_cluster: Option<bool>,
    redis_auth_token: Option<String>,
    redis_auth_secret: Option<String>,
    redis_ca_file: Option<PathBuf>,
    region: Option<String>,
    db_pool: Option<u32>,
    redis_pool: Option<usize>,
    cache_prefix: Option<String>,
    cache_ttl: Option<u64>,
    ttl_jitter: Option<u8>,
    fill_lock: Option<bool>,
    sql_database_url: Option<String>,
    sql_readonly_user: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag(String),
    Env(String),
    File(PathBuf),
    StackOutput { stack: String, key: String },
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
    pub redis_url: Setting<String>,
    pub redis_ca_file: Option<PathBuf>,
    pub region: Option<Setting<String>>,
    pub stack_name: Option<Setting<String>>,
    pub db_pool: u32,
    pub redis_pool: usize,
    pub cache_prefix: String,
    pub cache_ttl: u64,
    pub ttl_jitter: u8,
    pub fill_lock: bool,
    pub sql_database_url: Option<String>,
    pub sql_readonly_user: Option<String>,
}

impl Resolved {
    /// For `cachelens config`: every value with its source, passwords masked.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            line("database_url", &mask_password(&self.database_url.value), &self.database_url.origin),
            line("redis_url", &mask_password(&self.redis_url.value), &self.redis_url.origin),
        ];
        if let Some(r) = &self.region {
            lines.push(line("region", &r.value, &r.origin));
        }
        if let Some(ca) = &self.redis_ca_file {
            lines.push(format!("{:<14} {}", "redis_ca_file", ca.display()));
        }
        if let Some(s) = &self.stack_name {
            lines.push(line("stack_name", &s.value, &s.origin));
        }
        lines.push(format!("{:<14} {}", "db_pool", self.db_pool));
        lines.push(format!("{:<14} {}", "redis_pool", self.redis_pool));
        lines.push(format!("{:<14} {}", "cache_prefix", self.cache_prefix));
        lines.push(format!("{:<14} {} s", "cache_ttl", self.cache_ttl));
        lines.push(format!("{:<14} {} %", "ttl_jitter", self.ttl_jitter));
        lines.push(format!("{:<14} {}", "fill_lock", self.fill_lock));
        if let Some(url) = &self.sql_database_url {
            lines.push(format!("{:<14} {}", "sql_database_url", mask_password(url)));
        }
        if let Some(user) = &self.sql_readonly_user {
            lines.push(format!("{:<14} {user}", "sql_readonly_user"));
        }
        lines.join("\n")
    }
}

fn line(name: &str, value: &str, origin: &Origin) -> String {
    format!("{name:<14} {value}  ({origin})")
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

/// Userinfo may hold any byte; everything but letters and digits is escaped.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, USERINFO).to_string()
}

/// One layered value: the flag or its environment variable (as clap saw it), else the file.
fn layered<T: Clone>(
    name: &str,
    env: &str,
    given: &Option<T>,
    matches: Option<&ArgMatches>,
    file: Option<T>,
    file_path: &Option<PathBuf>,
) -> Option<Setting<T>> {
    if let Some(value) = given {
        let origin = match matches.and_then(|m| m.value_source(&name.replace('-', "_"))) {
            Some(ValueSource::EnvVariable) => Origin::Env(env.to_string()),
            _ => Origin::Flag(name.to_string()),
        };
        return Some(Setting { value: value.clone(), origin });
    }
    file.map(|value| Setting { value, origin: Origin::File(file_path.clone().unwrap_or_default()) })
}

fn read_file(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("config file {}: {e}", path.display()))?;
    // toml's messages quote the offending line, which could hold a secret; name the position only.
    toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| format!(" at byte {}", s.start)).unwrap_or_default();
        format!("config file {} is not valid{at}: {}", path.display(), e.message())
    })
}

/// Splits `host:port` (the form RDS and ElastiCache endpoints are often given in).
fn host_port(endpoint: &str) -> (String, Option<u16>) {
    match endpoint.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => (host.to_string(), port.parse().ok()),
        _ => (endpoint.to_string(), None),
    }
}

/// Resolves the connection settings. `matches` (the subcommand's) tells flags from environment variables;
/// AWS is contacted only when flags, environment and file leave something open.
pub async fn resolve(args: &ConnectionArgs, matches: Option<&ArgMatches>) -> Result<Resolved, String> {
    let file = match &args.config {
        Some(path) => read_file(path)?,
        None => FileSettings::default(),
    };
    let p = &args.config;
    let database_url = layered("database-url", "DATABASE_URL", &args.database_url, matches, file.database_url, p);
    let redis_url = layered("redis-url", "REDIS_URL", &args.redis_url, matches, file.redis_url, p);
    let stack_name = layered("stack-name", "CACHELENS_STACK_NAME", &args.stack_name, matches, file.stack_name, p);
    let db_secret = layered("db-secret", "CACHELENS_DB_SECRET", &args.db_secret, matches, file.db_secret, p);
    let db_host = layered("db-host", "CACHELENS_DB_HOST", &args.db_host, matches, file.db_host, p);
    let db_port = layered("db-port", "CACHELENS_DB_PORT", &args.db_port, matches, file.db_port, p);
    let db_name = layered("db-name", "CACHELENS_DB_NAME", &args.db_name, matches, file.db_name, p);
    let redis_host = layered("redis-host", "CACHELENS_REDIS_HOST", &args.redis_host, matches, file.redis_host, p);
    let redis_tls = layered("redis-tls", "CACHELENS_REDIS_TLS", &args.redis_tls, matches, file.redis_tls, p);
    let redis_cluster =
        layered("redis-cluster", "CACHELENS_REDIS_CLUSTER", &args.redis_cluster, matches, file.redis_cluster, p);
    let auth_token =
        layered("redis-auth-token", "REDIS_AUTH_TOKEN", &args.redis_auth_token, matches, file.redis_auth_token, p);
    let auth_secret = layered(
        "redis-auth-secret",
        "CACHELENS_REDIS_AUTH_SECRET",
        &args.redis_auth_secret,
        matches,
        file.redis_auth_secret,
        p,
    );
    let region = layered("region", "AWS_REGION", &args.region, matches, file.region, p);

    let needs_aws = (database_url.is_none() && (db_secret.is_some() || stack_name.is_some()))
        || (redis_url.is_none() && redis_host.is_none() && stack_name.is_some())
        || (redis_url.is_none() && auth_token.is_none() && auth_secret.is_some());
    let sdk = if needs_aws { Some(aws::load_sdk_config(region.as_ref().map(|r| r.value.clone())).await?) } else { None };
    let region = region.or_else(|| {
        sdk.as_ref().and_then(|c| c.region()).map(|r| Setting { value: r.to_string(), origin: Origin::Assembled("AWS SDK default chain".into()) })
    });
    let outputs = match (&stack_name, &sdk) {
        (Some(stack), Some(sdk)) => Some(aws::stack_outputs(sdk, &stack.value).await?),
        _ => None,
    };
    let from_output = |keys: &[&str]| -> Result<Option<Setting<String>>, String> {
        match &outputs {
            None => Ok(None),
            Some(o) => {
                let (key, value) = o.require(keys)?;
                Ok(Some(Setting { value: value.to_string(), origin: Origin::StackOutput { stack: o.stack.clone(), key: key.to_string() } }))
            }
        }
    };

    let database_url = match database_url {
        Some(url) => url,
        None => {
            let secret_id = match db_secret {
                Some(s) => s,
                None => from_output(&["secretArn", "secretname"])?.ok_or(
                    "no database configured: set DATABASE_URL (or --database-url), --db-secret, or --stack-name",
                )?,
            };
            let sdk = sdk.as_ref().expect("AWS is loaded whenever a secret must be read");
            let secret = aws::parse_db_secret(&secret_id.value, &aws::secret_string(sdk, &secret_id.value).await?)?;
            let endpoint = match db_host {
                Some(h) => Some(h.value),
                None => match secret.host.clone() {
                    Some(h) => Some(h),
                    None => from_output(&["mysqlEndpoint", "mysqlendpoint"])
                        .map_err(|e| format!("{e}; the secret {} names no host either", secret_id.value))?
                        .map(|s| s.value),
                },
            };
            let endpoint = endpoint.ok_or_else(|| {
                format!("secret {} names no host: set --db-host (CACHELENS_DB_HOST) or --stack-name", secret_id.value)
            })?;
            let (host, endpoint_port) = host_port(&endpoint);
            let port = db_port.map(|p| p.value).or(endpoint_port).or(secret.port).unwrap_or(3306);
            let name = db_name.map(|n| n.value).or(secret.dbname.clone()).unwrap_or_else(|| "covid".into());
            Setting {
                value: format!("mysql://{}:{}@{host}:{port}/{name}", enc(&secret.username), enc(&secret.password)),
                origin: Origin::Assembled(format!("credentials from {}", Origin::Secret(secret_id.value.clone()))),
            }
        }
    };

    let redis_url = match redis_url {
        Some(url) => url,
        None => {
            let endpoint = match redis_host {
                Some(h) => Some(h),
                None => from_output(&["redisEndpoint", "redisendpoint"])?,
            };
            match endpoint {
                None => Setting { value: "redis://127.0.0.1:6379".into(), origin: Origin::Default },
                Some(endpoint) => {
                    let (host, port) = host_port(&endpoint.value);
                    let tls = redis_tls.map(|t| t.value).unwrap_or(false);
                    let cluster = redis_cluster.map(|c| c.value).unwrap_or(false);
                    let scheme = match (tls, cluster) {
                        (false, false) => "redis",
                        (true, false) => "rediss",
                        (false, true) => "redis-cluster",
                        (true, true) => "rediss-cluster",
                    };
                    let token = match (auth_token, auth_secret) {
                        (Some(t), _) => Some(t.value),
                        (None, Some(s)) => {
                            let sdk = sdk.as_ref().expect("AWS is loaded whenever a secret must be read");
                            Some(aws::parse_token_secret(&s.value, &aws::secret_string(sdk, &s.value).await?)?)
                        }
                        (None, None) => None,
                    };
                    let auth = token.map(|t| format!(":{}@", enc(&t))).unwrap_or_default();
                    Setting {
                        value: format!("{scheme}://{auth}{host}:{}", port.unwrap_or(6379)),
                        origin: Origin::Assembled(format!("host from {}", endpoint.origin)),
                    }
                }
            }
        }
    };

    let redis_ca_file = args.redis_ca_file.clone().or(file.redis_ca_file);
    let in_file = |name: &str, problem: String| format!("config file {}: {name}: {problem}", p.clone().unwrap_or_default().display());
    let db_pool = tuned("db_pool", args.db_pool, matches, file.db_pool);
    let redis_pool = tuned("redis_pool", args.redis_pool, matches, file.redis_pool);
    if db_pool == 0 || redis_pool == 0 {
        return Err("db_pool and redis_pool must be at least 1".into());
    }
    let cache_prefix = match file.cache_prefix {
        Some(prefix) if !given("cache_prefix", matches) => parse_prefix(&prefix).map_err(|e| in_file("cache_prefix", e))?,
        _ => args.cache_prefix.clone(),
    };
    let cache_ttl = tuned("cache_ttl", args.cache_ttl, matches, file.cache_ttl);
    if !(1..=MAX_TTL_S).contains(&cache_ttl) {
        return Err(in_file("cache_ttl", format!("must be 1 to {MAX_TTL_S} seconds, not {cache_ttl}")));
    }
    let ttl_jitter = tuned("ttl_jitter", args.ttl_jitter, matches, file.ttl_jitter);
    if ttl_jitter > 50 {
        return Err(in_file("ttl_jitter", format!("must be 0 to 50 %, not {ttl_jitter}")));
    }
    let sql_database_url = args.sql_database_url.clone().or(file.sql_database_url);
    let sql_readonly_user = args.sql_readonly_user.clone().or(file.sql_readonly_user);
    if sql_database_url.is_some() && sql_readonly_user.is_some() {
        return Err("give sql_database_url or sql_readonly_user, not both".into());
    }
    Ok(Resolved {
        database_url,
        redis_url,
        redis_ca_file,
        region,
        stack_name,
        db_pool,
        redis_pool,
        cache_prefix,
        cache_ttl,
        ttl_jitter,
        fill_lock: tuned("fill_lock", args.fill_lock, matches, file.fill_lock),
        sql_database_url,
        sql_readonly_user,
    })
}

/// Whether the flag or its environment variable was given, rather than left at its default. Without the
/// matches (cachelens called as a library) nothing counts as given, so the file decides.
fn given(name: &str, matches: Option<&ArgMatches>) -> bool {
    matches.and_then(|m| m.value_source(name)).is_some_and(|source| source != ValueSource::DefaultValue)
}

/// A setting with a default: the flag or variable when given, else the file, else the default.
fn tuned<T>(name: &str, from_args: T, matches: Option<&ArgMatches>, file: Option<T>) -> T {
    match file {
        Some(value) if !given(name, matches) => value,
        _ => from_args,
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CACHELENS_ADDR", default_value = "127.0.0.1:8008")]
    pub addr: SocketAddr,
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

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(host_port("db.example:3307"), ("db.example".into(), Some(3307)));
        assert_eq!(host_port("db.example"), ("db.example".into(), None));
    }

    #[tokio::test]
    async fn flags_win_over_the_file_and_unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("cachelens-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "database_url = \"mysql://f:pw@file/db\"\nredis_url = \"redis://file:1\"\n").unwrap();
        let args = ConnectionArgs {
            config: Some(file.clone()),
            redis_url: Some("redis://flag:2".into()),
            cache_prefix: "cachelens".into(),
            cache_ttl: 60,
            db_pool: 16,
            redis_pool: 4,
            ..Default::default()
        };
        let r = resolve(&args, None).await.unwrap();
        assert_eq!(r.database_url.value, "mysql://f:pw@file/db");
        assert_eq!(r.database_url.origin, Origin::File(file.clone()));
        assert_eq!((r.redis_url.value.as_str(), &r.redis_url.origin), ("redis://flag:2", &Origin::Flag("redis-url".into())));
        assert!(!r.describe().contains("pw@"), "{}", r.describe());

        std::fs::write(&file, "databse_url = \"mysql://x:hunter2@h/d\"\n").unwrap();
        let err = resolve(&args, None).await.unwrap_err();
        assert!(err.contains("unknown field") && !err.contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn tuning_comes_from_the_file_unless_a_flag_or_variable_is_given() {
        use clap::{Command, FromArgMatches};
        let dir = std::env::temp_dir().join(format!("cachelens-tuning-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        let urls = "database_url = \"mysql://u:pw@db/covid\"\nredis_url = \"redis://cache:6379\"\n";
        std::fs::write(&file, format!("{urls}db_pool = 3\ncache_ttl = 120\nttl_jitter = 10\nfill_lock = true\ncache_prefix = \"team-a\"\n"))
            .unwrap();
        let parse = |extra: &[&str]| {
            let argv = [&["cachelens", "--config", file.to_str().unwrap()], extra].concat();
            let matches = ConnectionArgs::augment_args(Command::new("cachelens")).try_get_matches_from(argv).unwrap();
            (ConnectionArgs::from_arg_matches(&matches).unwrap(), matches)
        };

        let (args, matches) = parse(&["--cache-ttl", "30"]);
        let r = resolve(&args, Some(&matches)).await.unwrap();
        assert_eq!((r.db_pool, r.redis_pool, r.cache_ttl, r.ttl_jitter, r.fill_lock), (3, 4, 30, 10, true));
        assert_eq!(r.cache_prefix, "team-a");

        for (line, named) in [("cache_prefix = \"a*\"", "cache_prefix"), ("cache_ttl = 0", "cache_ttl"), ("ttl_jitter = 60", "ttl_jitter")] {
            std::fs::write(&file, format!("{urls}{line}\n")).unwrap();
            let (args, matches) = parse(&[]);
            let err = resolve(&args, Some(&matches)).await.unwrap_err();
            assert!(err.contains(named) && err.contains("c.toml"), "{line}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
