//! Discovery: the connections the layers left open, assembled from AWS (CloudFormation stack outputs, Secrets
//! Manager). Runs only while a connection is still missing; AWS is not contacted otherwise.

use super::{aws, Origin, Setting};
use crate::error::{AppError, AppResult};

/// What flags, variables and the file gave for the connections.
pub(super) struct Given {
    pub database_url: Option<Setting<String>>,
    pub redis_url: Option<Setting<String>>,
    pub stack_name: Option<Setting<String>>,
    pub db_secret: Option<Setting<String>>,
    pub db_host: Option<Setting<String>>,
    pub db_port: Option<Setting<u16>>,
    pub db_name: Option<Setting<String>>,
    pub redis_host: Option<Setting<String>>,
    pub redis_tls: Option<Setting<bool>>,
    pub redis_cluster: Option<Setting<bool>>,
    pub auth_token: Option<Setting<String>>,
    pub auth_secret: Option<Setting<String>>,
    pub region: Option<Setting<String>>,
}

pub(super) struct Found {
    pub database_url: Setting<String>,
    /// The secret `database_url`'s credentials came from.
    pub db_secret: Option<String>,
    pub redis_url: Setting<String>,
    pub region: Option<Setting<String>>,
}

pub(super) async fn connections(given: Given) -> AppResult<Found> {
    let Given {
        database_url,
        redis_url,
        stack_name,
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
    } = given;
    let needs_aws = (database_url.is_none() && (db_secret.is_some() || stack_name.is_some()))
        || (redis_url.is_none() && redis_host.is_none() && stack_name.is_some())
        || (redis_url.is_none() && auth_token.is_none() && auth_secret.is_some());
    let sdk = if needs_aws { Some(aws::load_sdk_config(region.as_ref().map(|r| r.value.clone())).await?) } else { None };
    let region = region.or_else(|| {
        sdk.as_ref()
            .and_then(|c| c.region())
            .map(|r| Setting { value: r.to_string(), origin: Origin::Assembled("AWS SDK default chain".into()) })
    });
    let outputs = match (&stack_name, &sdk) {
        (Some(stack), Some(sdk)) => Some(aws::stack_outputs(sdk, &stack.value).await?),
        _ => None,
    };
    let from_output = |keys: &[&str]| -> AppResult<Option<Setting<String>>> {
        match &outputs {
            None => Ok(None),
            Some(o) => {
                let (key, value) = o.require(keys)?;
                Ok(Some(Setting { value: value.to_string(), origin: Origin::StackOutput { stack: o.stack.clone(), key: key.to_string() } }))
            }
        }
    };

    let mut secret_used = None;
    let database_url = match database_url {
        Some(url) => url,
        None => {
            let secret_id = match db_secret {
                Some(s) => s,
                None => from_output(&["secretArn", "secretname"])?.ok_or_else(|| {
                    AppError::Invalid("no database configured: set DATABASE_URL (or --database-url), --db-secret, or --stack-name".into())
                })?,
            };
            let sdk = sdk.as_ref().expect("AWS is loaded whenever a secret must be read");
            let secret = aws::parse_db_secret(&secret_id.value, &aws::secret_string(sdk, &secret_id.value).await?)?;
            let endpoint = match db_host {
                Some(h) => Some(h.value),
                None => match secret.host.clone() {
                    Some(h) => Some(h),
                    None => from_output(&["mysqlEndpoint", "mysqlendpoint"])
                        .map_err(|e| AppError::Invalid(format!("{e}; the secret {} names no host either", secret_id.value)))?
                        .map(|s| s.value),
                },
            };
            let endpoint = endpoint.ok_or_else(|| {
                AppError::Invalid(format!("secret {} names no host: set --db-host (CACHELENS_DB_HOST) or --stack-name", secret_id.value))
            })?;
            let (host, endpoint_port) = host_port(&endpoint)?;
            let port = db_port.map(|p| p.value).or(endpoint_port).or(secret.port).unwrap_or(3306);
            let name = db_name.map(|n| n.value).or(secret.dbname.clone()).unwrap_or_else(|| "covid".into());
            secret_used = Some(secret_id.value.clone());
            Setting {
                value: url_of("mysql", &host, port, Some((&secret.username, &secret.password)), &name)?,
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
                    let (host, port) = host_port(&endpoint.value)?;
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
                    let auth = token.as_deref().map(|t| ("", t));
                    Setting {
                        value: url_of(scheme, &host, port.unwrap_or(6379), auth, "")?,
                        origin: Origin::Assembled(format!("host from {}", endpoint.origin)),
                    }
                }
            }
        }
    };

    Ok(Found { database_url, db_secret: secret_used, redis_url, region })
}

/// `scheme://user:password@host:port/path`, the user info percent-encoded by the `url` crate (a password may
/// hold any byte) and an IPv6 host in brackets.
fn url_of(scheme: &str, host: &str, port: u16, auth: Option<(&str, &str)>, path: &str) -> AppResult<String> {
    let bad = |what: &str| AppError::Invalid(format!("{what} does not make a {scheme} URL with host {host:?}"));
    let mut url = url::Url::parse(&format!("{scheme}://placeholder")).map_err(|_| bad("the scheme"))?;
    let bracketed = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    url.set_host(Some(&bracketed)).map_err(|_| bad("the host"))?;
    url.set_port(Some(port)).map_err(|_| bad("the port"))?;
    if let Some((user, password)) = auth {
        url.set_username(user).map_err(|_| bad("the user"))?;
        url.set_password(Some(password)).map_err(|_| bad("the password"))?;
    }
    url.set_path(path);
    Ok(url.to_string())
}

/// Splits an endpoint as RDS and ElastiCache give it (`host`, `host:port`, an IPv6 address bare or as
/// `[addr]:port`) into its host, without brackets, and port.
fn host_port(endpoint: &str) -> AppResult<(String, Option<u16>)> {
    let endpoint = endpoint.trim();
    if let Ok(ip) = endpoint.parse::<std::net::Ipv6Addr>() {
        return Ok((ip.to_string(), None));
    }
    let url = url::Url::parse(&format!("tcp://{endpoint}"))
        .map_err(|e| AppError::Invalid(format!("endpoint {endpoint:?} is not a host or host:port: {e}")))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| AppError::Invalid(format!("endpoint {endpoint:?} names no host")))?;
    if url.path() != "" && url.path() != "/" || url.username() != "" {
        return Err(AppError::Invalid(format!("endpoint {endpoint:?} is not a host or host:port")));
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), url.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(host_port("db.example:3307").unwrap(), ("db.example".into(), Some(3307)));
        assert_eq!(host_port("db.example").unwrap(), ("db.example".into(), None));
        assert_eq!(host_port("[2001:db8::1]:6380").unwrap(), ("2001:db8::1".into(), Some(6380)));
        assert_eq!(host_port("2001:db8::1").unwrap(), ("2001:db8::1".into(), None));
        assert_eq!(host_port("10.0.0.5:3306").unwrap(), ("10.0.0.5".into(), Some(3306)));
        assert!(host_port("db.example:notaport").is_err());
        assert!(host_port("db.example/path").is_err());
    }

    #[test]
    fn urls_are_assembled_with_encoded_credentials_and_bracketed_ipv6() {
        let url = url_of("mysql", "2001:db8::1", 3306, Some(("admin", "p@ss:w/rd?#")), "/covid").unwrap();
        assert_eq!(url, "mysql://admin:p%40ss%3Aw%2Frd%3F%23@[2001:db8::1]:3306/covid");
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!((parsed.host_str(), parsed.port(), parsed.path()), (Some("[2001:db8::1]"), Some(3306), "/covid"));
        assert_eq!(url_of("rediss", "cache.example", 6379, Some(("", "tok en")), "").unwrap(), "rediss://:tok%20en@cache.example:6379");
        assert_eq!(url_of("redis", "cache.example", 6379, None, "").unwrap(), "redis://cache.example:6379");
    }
}
