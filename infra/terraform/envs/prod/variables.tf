# Variables of the prod environment. Defaults are prod's sizes; values without a default (the
# domain, the repository, ...) come from terraform.tfvars (see terraform.tfvars.example).

# --- account, region, state ------------------------------------------------------------------

variable "aws_region" {
  description = "AWS region of the environment; null = AWS_REGION / the profile's region (the deploy workflow sets AWS_REGION)."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "Bucket holding the Terraform state (bootstrap output state_bucket); the deploy roles get access to this environment's prefix in it."
  type        = string
}

variable "state_kms_key_arn" {
  description = "KMS key of the state bucket (bootstrap output state_kms_key_arn)."
  type        = string
  default     = null
}

# --- network ---------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the environment's VPC."
  type        = string
  default     = "10.50.0.0/16"
}

variable "availability_zones" {
  description = "Two availability zone names for the subnets (e.g. [\"us-east-1a\", \"us-east-1b\"]); empty = the region's first two by name. Pin them once the environment exists."
  type        = list(string)
  default     = []
}

variable "enable_nat_gateway" {
  description = "NAT for outbound HTTPS to public endpoints (Tessera fetches Cognito's JWKS; Cognito's VPC endpoint does not serve user pools with a hosted-UI domain). AWS APIs use VPC endpoints either way."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (cheaper) instead of one per AZ."
  type        = bool
  default     = false
}

# --- database --------------------------------------------------------------------------------

variable "db_engine_version" {
  description = "Aurora PostgreSQL 16.x engine version."
  type        = string
  default     = "16.6"
}

variable "db_min_acu" {
  description = "Aurora Serverless v2 minimum ACUs."
  type        = number
  default     = 1
}

variable "db_max_acu" {
  description = "Aurora Serverless v2 maximum ACUs."
  type        = number
  default     = 16
}

variable "db_instance_count" {
  description = "Aurora instances (1 = writer only; 2 adds a reader in the other AZ for fast failover)."
  type        = number
  default     = 2
}

variable "db_backup_retention_days" {
  description = "Days of automated Aurora backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Protect the Aurora cluster against deletion."
  type        = bool
  default     = true
}

variable "db_final_snapshot" {
  description = "Take a final snapshot when the cluster is destroyed."
  type        = bool
  default     = true
}

variable "db_monitoring_interval" {
  description = "Enhanced monitoring interval in seconds (0 = off)."
  type        = number
  default     = 60
}

variable "db_enable_proxy" {
  description = "Put RDS Proxy between the Lambda and Aurora."
  type        = bool
  default     = false
}

variable "db_connections_alarm_threshold" {
  description = "DatabaseConnections alarm threshold used when the function has no reserved concurrency (otherwise 90% of 2 x reserved concurrency)."
  type        = number
  default     = 1000
}

# --- logs and secrets ------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of every log group of the environment (Lambda, API access, VPC flow, PostgreSQL)."
  type        = number
  default     = 90
}

variable "secrets_recovery_window_days" {
  description = "Days a deleted secret can be restored (0 = delete at once)."
  type        = number
  default     = 30
}

variable "jwt_secret_version" {
  description = "Generation of the JWT secret: bump to write a new random value (signs everybody out)."
  type        = number
  default     = 1
}

variable "ticket_master_key_version" {
  description = "Generation of the ticket master key: bump only to replace the key on purpose (issued tickets stop verifying)."
  type        = number
  default     = 1
}

# --- function --------------------------------------------------------------------------------

variable "lambda_architecture" {
  description = "arm64 or x86_64; must match the artifact (tessera-lambda-<arch>.zip)."
  type        = string
  default     = "arm64"
}

variable "lambda_zip_path" {
  description = "Path of tessera-lambda-<arch>.zip (the deploy workflow passes it with -var). Not used when lambda_s3_bucket is set."
  type        = string
  default     = null
}

variable "lambda_s3_bucket" {
  description = "Bucket with the artifact instead of a local zip (no 50 MB direct-upload limit); null = lambda_zip_path."
  type        = string
  default     = null
}

variable "lambda_s3_key" {
  description = "Object key of the artifact in lambda_s3_bucket (use a new key per build)."
  type        = string
  default     = null
}

variable "lambda_s3_object_version" {
  description = "Object version of the artifact, when keys are reused."
  type        = string
  default     = null
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of the function (caps Aurora connections at 2 x this). -1 = unreserved (accounts whose concurrency quota is still 10 cannot reserve any)."
  type        = number
  default     = 100
}

variable "lambda_extra_environment" {
  description = "Additional TESSERA_* settings for the function; cannot override the contract's variables."
  type        = map(string)
  default     = {}
}

# --- HTTP API --------------------------------------------------------------------------------

variable "api_throttling_burst_limit" {
  description = "API Gateway burst limit."
  type        = number
  default     = 500
}

variable "api_throttling_rate_limit" {
  description = "API Gateway steady-state requests per second."
  type        = number
  default     = 200
}

variable "api_custom_domain_name" {
  description = "Custom domain for the API (e.g. api.example.com); null = the execute-api URL only."
  type        = string
  default     = null
}

variable "api_route53_zone_id" {
  description = "Route 53 zone of api_custom_domain_name for the certificate validation and alias records; null = create them by hand."
  type        = string
  default     = null
}

variable "jwt_authorizer_route_keys" {
  description = "Route keys API Gateway guards with the Cognito JWT authorizer (empty: Tessera checks tokens itself)."
  type        = list(string)
  default     = []
}

# --- mail ------------------------------------------------------------------------------------

variable "mail_domain" {
  description = "Domain verified in SES for sending (e.g. example.com)."
  type        = string
}

variable "mail_from" {
  description = "TESSERA_MAIL_FROM, an address in mail_domain, e.g. \"Tessera <tickets@stg.example.com>\"."
  type        = string
}

variable "mail_route53_zone_id" {
  description = "Route 53 zone of mail_domain for the DKIM records; null = add them by hand (output ses_dns_records)."
  type        = string
  default     = null
}

variable "mail_from_subdomain" {
  description = "Custom MAIL FROM subdomain (e.g. bounce) for SPF alignment; null = amazonses.com."
  type        = string
  default     = null
}

# --- identity --------------------------------------------------------------------------------

variable "cognito_domain_prefix" {
  description = "Cognito hosted-UI domain prefix, unique in the region (e.g. tessera-<org>)."
  type        = string
}

variable "cognito_callback_urls" {
  description = "OAuth redirect URLs of the app."
  type        = list(string)
}

variable "cognito_logout_urls" {
  description = "Sign-out redirect URLs of the app."
  type        = list(string)
  default     = []
}

variable "cognito_user_pool_tier" {
  description = "Cognito feature plan (ESSENTIALS or PLUS; PLUS is needed for threat protection)."
  type        = string
  default     = "PLUS"
}

variable "cognito_threat_protection_mode" {
  description = "Cognito threat protection: OFF, AUDIT or ENFORCED (the last two need PLUS)."
  type        = string
  default     = "ENFORCED"
}

variable "cognito_deletion_protection" {
  description = "Protect the user pool against deletion."
  type        = bool
  default     = true
}

variable "cognito_email_via_ses" {
  description = "Send Cognito's e-mails through the SES identity (needs the identity verified and SES production access)."
  type        = bool
  default     = false
}

# --- files, jobs, alarms ---------------------------------------------------------------------

variable "files_noncurrent_version_expiration_days" {
  description = "Days old versions of files are kept."
  type        = number
  default     = 90
}

variable "files_force_destroy" {
  description = "Let terraform destroy empty the buckets (stg convenience; keep false in prod)."
  type        = bool
  default     = false
}

variable "jobs_enabled" {
  description = "Run the scheduled jobs (false pauses all three schedules)."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; null = none."
  type        = string
  default     = null
}

# --- GitHub Actions --------------------------------------------------------------------------

variable "github_repository" {
  description = "GitHub repository (owner/name) allowed to deploy this environment."
  type        = string
}

variable "github_branches" {
  description = "Branches allowed to assume the deploy role."
  type        = list(string)
  default     = []
}

variable "github_environments" {
  description = "GitHub environments allowed to assume the deploy role (the deploy workflow's jobs use environment stg/prod)."
  type        = list(string)
  default     = ["prod"]
}

variable "github_tag_patterns" {
  description = "Tag patterns allowed to assume the deploy role outside a GitHub environment (e.g. v*). The deploy workflow's prod job declares environment prod, so its token carries environment:prod and the environment's protection rules (reviewers, tags v* only) apply."
  type        = list(string)
  default     = []
}

variable "github_create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (one per account: false in the second environment of a shared account)."
  type        = bool
  default     = true
}

variable "github_create_plan_role" {
  description = "Create the read-only role pull requests use for terraform plan."
  type        = bool
  default     = true
}
