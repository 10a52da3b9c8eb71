//! Real services for the tests, and the app served in-process on an ephemeral port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachelens::server::config::{Origin, Resolved, Setting, Tuning};
pub use cachelens::server::http::AccessPolicy;
use leptos::prelude::LeptosOptions;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the tests through scripts/test, which starts MariaDB and Redis"))
}

pub fn database_url() -> String {
    required("DATABASE_URL")
}

pub fn redis_url() -> String {
    required("REDIS_URL")
}

/// The shared DATABASE_URL pointed at another database on the same server.
pub fn database_url_named(name: &str) -> String {
    let url = database_url();
    let (base, _) = url.rsplit_once('/').expect("DATABASE_URL has a database path");
    format!("{base}/{name}")
}

/// An empty database of this test's own (the app user may create and drop `covid_*`).
pub async fn fresh_database(name: &str) -> String {
    let name = format!("covid_t_{name}");
    let admin = sqlx::MySqlPool::connect(&database_url()).await.expect("MariaDB from scripts/services answers");
    sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`")).execute(&admin).await.unwrap();
    admin.close().await;
    database_url_named(&name)
}

/// A database with `rows` generated articles, loaded through the real loader.
pub async fn loaded_database(name: &str, rows: u64) -> String {
    let url = fresh_database(name).await;
    let csv = temp_path(&format!("{name}.csv"));
    let mut file = std::fs::File::create(&csv).unwrap();
    cachelens::server::loader::generate::write_articles(&mut file, rows, 99).unwrap();
    let db = cachelens::server::loader::dataset::connect_creating(&url, None).await.unwrap();
    let report =
        cachelens::server::loader::csv_load::load_csv(&db, &csv, false, &mut cachelens::server::loader::progress::Progress::Silent)
            .await
            .unwrap();
    assert_eq!(report.rows, rows);
    url
}

pub fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachelens-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A redis-server of this test's own, on loopback, that the test may kill and bring back.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let mut server = Self { port: free_port(), child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of a real server: cutting it is, to the app, the server going away; stalling it is
/// the server hanging (connections stay open, nothing more gets through).
pub struct Proxy {
    pub port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let proxy = Self { port: free_port(), upstream, tasks: Arc::default(), stalled: Arc::default() };
        proxy.resume().await;
        proxy
    }

    /// Stops accepting and drops every open connection.
    pub fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    pub async fn resume(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("proxy port is free");
        let upstream = self.upstream;
        let tasks = self.tasks.clone();
        let stalled = self.stalled.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let stalled = stalled.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(upstream).await {
                        let (in_read, in_write) = inbound.into_split();
                        let (out_read, out_write) = outbound.into_split();
                        tokio::join!(pump(in_read, out_write, stalled.clone()), pump(out_read, in_write, stalled));
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }
}

/// Copies one direction; while stalled, what arrives is swallowed.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalled: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stalled.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// host:port of a service URL.
pub fn socket_of(url: &str) -> SocketAddr {
    let after = url.split_once("://").unwrap().1;
    let authority = after.split('/').next().unwrap();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hostport.parse().expect("tests use numeric loopback addresses")
}

/// The same URL with its port replaced.
pub fn with_port(url: &str, port: u16) -> String {
    let addr = socket_of(url);
    url.replacen(&addr.to_string(), &format!("127.0.0.1:{port}"), 1)
}

/// Settings for plain URLs, every tuning setting at its default.
pub fn settings_for(database_url: &str, redis_url: &str, cache_prefix: &str) -> Resolved {
    let given = |v: &str| Setting { value: v.to_string(), origin: Origin::Default };
    Resolved {
        database_url: given(database_url),
        db_secret: None,
        redis_url: given(redis_url),
        region: None,
        stack_name: None,
        tuning: Tuning { cache_prefix: cache_prefix.into(), ..Tuning::default() },
    }
}

/// Serves the real router in this process on an ephemeral port; returns its base URL.
pub async fn spawn_app(database_url: &str, redis_url: &str, prefix: &str) -> String {
    spawn_app_with(settings_for(database_url, redis_url, prefix)).await
}

pub async fn spawn_app_with(settings: Resolved) -> String {
    spawn_app_serving(settings, "target/site").await
}

/// Like [`spawn_app_with`], serving static files from `site_root`.
pub async fn spawn_app_serving(settings: Resolved, site_root: &str) -> String {
    spawn_app_full(settings, site_root, None).await
}

/// Like [`spawn_app_with`], asking for `token` on every page and API.
pub async fn spawn_app_guarded(settings: Resolved, token: &str) -> String {
    spawn_app_full(settings, "target/site", Some(token.to_string())).await
}

async fn spawn_app_full(settings: Resolved, site_root: &str, token: Option<String>) -> String {
    spawn_app_policy(settings, site_root, |port| AccessPolicy {
        loopback_port: token.is_none().then_some(port),
        token,
        origin_secret: None,
    })
    .await
}

/// The app served on a loopback port of its own, admitting requests by the policy `policy(port)` makes.
pub async fn spawn_app_policy(settings: Resolved, site_root: &str, policy: impl FnOnce(u16) -> AccessPolicy) -> String {
    let mut state = cachelens::server::startup::connect(&settings).await.expect("valid connection settings");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    state.set_access(policy(addr.port()));
    let options = LeptosOptions::builder().output_name("cachelens").site_root(site_root).build();
    let app = cachelens::server::http::router(state, options);
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap() });
    format!("http://{addr}")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The test corpora (`app/tests/sql/*.sql`): one statement per line, `//` lines are notes, `\n` stands for a
/// newline and `\u{XXXX}` for any character, so control characters and odd whitespace can be written down.
pub fn read_corpus(text: &str) -> Vec<String> {
    let unescape = |line: &str| {
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('\\', Some('u')) => {
                    chars.next();
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).expect("\\u{hex} in a corpus"));
                }
                ('\\', Some('n')) => {
                    chars.next();
                    out.push('\n');
                }
                _ => out.push(c),
            }
        }
        out
    };
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("//")).map(unescape).collect()
}

/// Runs `sql` as MariaDB's root over the socket scripts/services exports: for what even RDS's master user does
/// through grants the local app user lacks (MariaDB does not let a wildcard grant hand out rights on one
/// database).
/// Returns what it printed, one row a line, tab-separated.
pub fn as_root(sql: &str) -> String {
    let socket = std::env::var("CACHELENS_MYSQL_SOCKET").expect("CACHELENS_MYSQL_SOCKET is not set: run through scripts/test");
    let out = std::process::Command::new("mariadb")
        .args(["--no-defaults", "--protocol=socket", &format!("--socket={socket}"), "-uroot", "-N", "-B", "-e", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The database name of a URL from [`loaded_database`] and friends.
pub fn database_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// A client of the tests' Redis.
pub async fn redis_client() -> fred::clients::Client {
    use fred::prelude::*;
    let client = Builder::from_config(Config::from_url(&redis_url()).unwrap()).build().unwrap();
    client.init().await.unwrap();
    client
}

/// The keys of the tests' Redis matching `pattern`.
pub async fn redis_keys(pattern: &str) -> Vec<String> {
    use fred::prelude::*;
    redis_client().await.custom(fred::cmd!("KEYS"), vec![pattern]).await.unwrap()
}
