//! Discovery: the connections the layers left open, assembled from AWS (CloudFormation stack outputs, Secrets
//! Manager). Runs only while a connection is still missing; AWS is not contacted otherwise.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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
            let (host, endpoint_port) = host_port(&endpoint);
            let port = db_port.map(|p| p.value).or(endpoint_port).or(secret.port).unwrap_or(3306);
            let name = db_name.map(|n| n.value).or(secret.dbname.clone()).unwrap_or_else(|| "covid".into());
            secret_used = Some(secret_id.value.clone());
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

    Ok(Found { database_url, db_secret: secret_used, redis_url, region })
}

/// Userinfo may hold any byte; everything but letters and digits is escaped.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, USERINFO).to_string()
}

/// Splits `host:port` (the form RDS and ElastiCache endpoints are often given in).
fn host_port(endpoint: &str) -> (String, Option<u16>) {
    match endpoint.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => (host.to_string(), port.parse().ok()),
        _ => (endpoint.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(host_port("db.example:3307"), ("db.example".into(), Some(3307)));
        assert_eq!(host_port("db.example"), ("db.example".into(), None));
    }
}
