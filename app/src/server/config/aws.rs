//! Reading a deployment's settings from AWS: CloudFormation stack outputs and Secrets Manager secrets.
//!
//! Every failure is worded for the person running the command: what was asked, in which region, and what
//! to do about it. Secret values never appear in an error.

use crate::error::{AppError, AppResult};
use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use serde::Deserialize;

/// The SDK configuration from the default chains: region from AWS_REGION/profile or, on EC2, IMDSv2 (the
/// SDK's IMDS client always uses session tokens); AWS_ENDPOINT_URL is honoured, which is how the tests aim
/// it at a local emulator.
pub async fn load_sdk_config(region: Option<String>) -> AppResult<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AppError::Invalid("no AWS region: set AWS_REGION (or pass --region), or run on EC2 where IMDSv2 provides it".into()));
    }
    Ok(config)
}

fn region_of(config: &SdkConfig) -> String {
    config.region().map(|r| r.to_string()).unwrap_or_default()
}

/// A stack's outputs, keyed by lower-cased output key so the seed's `mysqlendpoint` and the Pulumi program's
/// `mysqlEndpoint` are the same thing.
#[derive(Debug, Clone)]
pub struct StackOutputs {
    pub stack: String,
    outputs: BTreeMap<String, (String, String)>,
}

impl StackOutputs {
    /// The first of `keys` the stack has, or an error listing what it does have.
    pub fn require(&self, keys: &[&str]) -> AppResult<(&str, &str)> {
        keys.iter().find_map(|k| self.outputs.get(&k.to_ascii_lowercase()).map(|(orig, v)| (orig.as_str(), v.as_str()))).ok_or_else(|| {
            let present: Vec<&str> = self.outputs.values().map(|(k, _)| k.as_str()).collect();
            AppError::Invalid(format!(
                "stack {} has no output {} (outputs present: {})",
                self.stack,
                keys.join(" or "),
                if present.is_empty() { "none".to_string() } else { present.join(", ") }
            ))
        })
    }
}

pub async fn stack_outputs(config: &SdkConfig, stack: &str) -> AppResult<StackOutputs> {
    let client = aws_sdk_cloudformation::Client::new(config);
    let answer = client.describe_stacks().stack_name(stack).send().await.map_err(|e| {
        let message = e.message().unwrap_or_default().to_string();
        if message.contains("does not exist") {
            AppError::Invalid(format!("stack {stack} not found in region {}", region_of(config)))
        } else {
            AppError::AwsDown(format!("cannot describe stack {stack}: {}", describe_sdk_error(e.code(), &message, &e)))
        }
    })?;
    let found =
        answer.stacks().first().ok_or_else(|| AppError::Invalid(format!("stack {stack} not found in region {}", region_of(config))))?;
    let outputs = found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .map(|(k, v)| (k.to_ascii_lowercase(), (k, v)))
        .collect();
    Ok(StackOutputs { stack: stack.to_string(), outputs })
}

fn describe_sdk_error(code: Option<&str>, message: &str, e: &dyn std::fmt::Debug) -> String {
    match (code, message) {
        (Some(code), m) if !m.is_empty() => format!("{code}: {m}"),
        (Some(code), _) => code.to_string(),
        _ => {
            // No service answer at all (network, credentials): the Debug form names the cause.
            let text = format!("{e:?}");
            text.chars().take(300).collect()
        }
    }
}

/// Database credentials from a secret: the seed's JSON (username, password, host, port, dbname) or an
/// RDS-managed master secret (username and password only).
#[derive(Deserialize, Clone, PartialEq, Eq)]
pub struct DbSecret {
    pub username: String,
    pub password: String,
    pub host: Option<String>,
    #[serde(default, deserialize_with = "port_from_number_or_text")]
    pub port: Option<u16>,
    pub dbname: Option<String>,
}

impl std::fmt::Debug for DbSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSecret")
            .field("username", &self.username)
            .field("password", &"****")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .finish()
    }
}

fn port_from_number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Option::<Port>::deserialize(d)? {
        None => Ok(None),
        Some(Port::Number(n)) => Ok(Some(n)),
        Some(Port::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

pub async fn secret_string(config: &SdkConfig, secret_id: &str) -> AppResult<String> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let answer = client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| {
        let message = e.message().unwrap_or_default().to_string();
        // Secrets Manager says AccessDeniedException; an IAM denial before the service (403) may carry no code.
        let forbidden = e.raw_response().map(|r| r.status().as_u16()) == Some(403);
        match e.code() {
            _ if forbidden => AppError::Invalid(format!(
                "access denied reading secret {secret_id}: grant secretsmanager:GetSecretValue on it to this role"
            )),
            Some("ResourceNotFoundException") => AppError::Invalid(format!("secret {secret_id} not found in region {}", region_of(config))),
            Some("AccessDeniedException") => AppError::Invalid(format!(
                "access denied reading secret {secret_id}: grant secretsmanager:GetSecretValue on it to this role ({message})"
            )),
            code => AppError::AwsDown(format!("cannot read secret {secret_id}: {}", describe_sdk_error(code, &message, &e))),
        }
    })?;
    answer.secret_string().map(str::to_owned).ok_or_else(|| AppError::Invalid(format!("secret {secret_id} has no string value")))
}

pub fn parse_db_secret(secret_id: &str, text: &str) -> AppResult<DbSecret> {
    // serde_json's messages quote no input, so they are safe to show.
    serde_json::from_str(text).map_err(|e| {
        AppError::Invalid(format!("secret {secret_id} is not the expected JSON (username, password; optionally host, port, dbname): {e}"))
    })
}

/// A Redis AUTH token stored as a secret: the plain string, or JSON with `token`, `auth_token` or `password`.
pub fn parse_token_secret(secret_id: &str, text: &str) -> AppResult<String> {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Ok(trimmed.to_string());
    }
    let value: serde_json::Value =
        serde_json::from_str(trimmed).map_err(|e| AppError::Invalid(format!("secret {secret_id} is not valid JSON: {e}")))?;
    ["token", "auth_token", "authToken", "password"]
        .iter()
        .find_map(|k| value.get(k).and_then(|v| v.as_str()).map(str::to_owned))
        .ok_or_else(|| AppError::Invalid(format!("secret {secret_id} has none of the keys token, auth_token, password")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_and_rds_managed_secrets_parse_and_never_print_the_password() {
        let seed = parse_db_secret("s", r#"{"username":"admin","password":"p@ss","host":"db","port":"3306","dbname":"covid"}"#).unwrap();
        assert_eq!((seed.host.as_deref(), seed.port, seed.dbname.as_deref()), (Some("db"), Some(3306), Some("covid")));
        let rds = parse_db_secret("s", r#"{"username":"admin","password":"p@ss"}"#).unwrap();
        assert_eq!((rds.host.as_deref(), rds.port), (None, None));
        assert!(!format!("{rds:?}").contains("p@ss"));
        let bad = parse_db_secret("s", r#"{"username":"admin","password":"#).unwrap_err();
        let bad = bad.to_string();
        assert!(bad.contains("secret s is not the expected JSON"), "{bad}");
        let missing = parse_db_secret("s", r#"{"user":"x","pass":"hunter2"}"#).unwrap_err();
        let missing = missing.to_string();
        assert!(missing.contains("username") && !missing.contains("hunter2"), "{missing}");
    }

    #[test]
    fn token_secrets_may_be_plain_or_json() {
        assert_eq!(parse_token_secret("t", " tok \n").unwrap(), "tok");
        assert_eq!(parse_token_secret("t", r#"{"auth_token":"x"}"#).unwrap(), "x");
        assert!(parse_token_secret("t", r#"{"other":"x"}"#).is_err());
    }
}
