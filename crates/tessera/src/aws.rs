//! AWS Secrets Manager: the secrets the configuration names by ARN, fetched at start-up with
//! the AWS SDK's usual credentials and region (on Lambda, the function's role); the database
//! credentials also whenever PostgreSQL refuses them (after a rotation).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use tessera_app::DbCredentials;

use crate::config::{Config, Secret};

/// A Secrets Manager client.
#[derive(Debug, Clone)]
pub struct Secrets(aws_sdk_secretsmanager::Client);

impl Secrets {
    pub async fn from_env() -> Secrets {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Secrets(aws_sdk_secretsmanager::Client::new(&conf))
    }

    /// A secret's text.
    pub async fn text(&self, arn: &str) -> anyhow::Result<String> {
        let out = self
            .0
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("reading the secret {arn}"))?;
        out.secret_string().map(str::to_string).with_context(|| format!("the secret {arn} holds no text"))
    }
}

/// The database user name and password from an RDS-format secret (`{"username", "password",
/// …}`), kept until PostgreSQL refuses them.
#[derive(Debug)]
pub struct RdsSecret {
    secrets: Secrets,
    arn: String,
    cached: Mutex<Option<(String, String)>>,
}

impl RdsSecret {
    pub fn new(secrets: Secrets, arn: String) -> RdsSecret {
        RdsSecret { secrets, arn, cached: Mutex::new(None) }
    }

    async fn fetch(&self) -> anyhow::Result<(String, String)> {
        #[derive(serde::Deserialize)]
        struct Rds {
            username: String,
            password: String,
        }
        let text = self.secrets.text(&self.arn).await?;
        let rds: Rds = serde_json::from_str(&text).with_context(|| {
            format!("the secret {} is not RDS's {{\"username\", \"password\"}} JSON", self.arn)
        })?;
        Ok((rds.username, rds.password))
    }
}

impl DbCredentials for RdsSecret {
    fn get(&self, fresh: bool) -> tessera_app::CredentialsFuture<'_> {
        Box::pin(async move {
            if !fresh && let Some(c) = self.cached.lock().ok().and_then(|c| c.clone()) {
                return Ok(c);
            }
            let c = self.fetch().await.map_err(|e| format!("{e:#}"))?;
            if let Ok(mut cached) = self.cached.lock() {
                *cached = Some(c.clone());
            }
            Ok(c)
        })
    }
}

/// Puts the secrets the configuration names by ARN in its place (checked as if configured
/// directly), and the database credentials' source.
pub async fn resolve(cfg: &mut Config) -> anyhow::Result<Option<Arc<dyn DbCredentials>>> {
    if cfg.db_secret_arn.is_none() && cfg.jwt_secret_arn.is_none() && cfg.ticket_master_key_arn.is_none() {
        return Ok(None);
    }
    let secrets = Secrets::from_env().await;
    if let Some(arn) = &cfg.jwt_secret_arn {
        let v = secrets.text(arn).await?;
        anyhow::ensure!(v.len() >= 32, "the JWT secret in {arn} must be at least 32 bytes");
        cfg.jwt_secret = Some(Secret(v));
    }
    if let Some(arn) = &cfg.ticket_master_key_arn {
        let v = secrets.text(arn).await?;
        tessera_app::ticket_codes::parse_master_key(v.trim())
            .map_err(|m| anyhow::anyhow!("the ticket master key in {arn}: {m}"))?;
        cfg.ticket_master_key = Some(Secret(v.trim().to_string()));
    }
    Ok(cfg.db_secret_arn.clone().map(|arn| Arc::new(RdsSecret::new(secrets, arn)) as Arc<dyn DbCredentials>))
}
