variable "name" {
  description = "Name prefix, e.g. tessera-stg (API, role and log group names)."
  type        = string
}

variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
}

# --- artifact --------------------------------------------------------------------------------

variable "architecture" {
  description = "Lambda architecture; must match the artifact tessera-lambda-<arch>.zip."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "zip_path" {
  description = "Local path of tessera-lambda-<arch>.zip (direct upload; Lambda caps direct uploads at 50 MB). Ignored when s3_bucket is set."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "Bucket holding the artifact (preferred in CI: no 50 MB limit). null = use zip_path."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Object key of the artifact in s3_bucket, e.g. tessera/<git sha>/tessera-lambda-arm64.zip (a new key per build makes Terraform update the code)."
  type        = string
  default     = null
}

variable "s3_object_version" {
  description = "Object version of the artifact when the key is reused between builds."
  type        = string
  default     = null
}

# --- function --------------------------------------------------------------------------------

variable "memory_size" {
  description = "Memory in MB (the contract: 512)."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Timeout in seconds (the contract: 60; a scheduled admission run ticks for up to 50 s)."
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; also caps database connections at 2 x this value. -1 = unreserved."
  type        = number

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency must be -1 (unreserved) or a positive number."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the function's ENIs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's log groups, in days."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the log groups."
  type        = string
}

# --- what the function talks to (environment and IAM) ----------------------------------------

variable "database_url" {
  description = "TESSERA_DATABASE_URL (no credentials in it)."
  type        = string
}

variable "db_secret_arn" {
  description = "ARN of the RDS-managed master user secret."
  type        = string
}

variable "jwt_secret_arn" {
  description = "ARN of the JWT secret."
  type        = string
}

variable "ticket_master_key_arn" {
  description = "ARN of the ticket master key secret."
  type        = string
}

variable "secrets_kms_key_arn" {
  description = "KMS key of the three secrets."
  type        = string
}

variable "oidc_issuer" {
  description = "TESSERA_OIDC_ISSUER (Cognito user pool issuer URL)."
  type        = string
}

variable "oidc_audience" {
  description = "TESSERA_OIDC_AUDIENCE (Cognito app client id)."
  type        = string
}

variable "mail_from" {
  description = "TESSERA_MAIL_FROM, e.g. \"Tessera <tickets@example.com>\"."
  type        = string
}

variable "ses_configuration_set_name" {
  description = "TESSERA_SES_CONFIGURATION_SET."
  type        = string
}

variable "ses_configuration_set_arn" {
  description = "ARN of the SES configuration set (IAM resource)."
  type        = string
}

variable "ses_identity_arn" {
  description = "ARN of the SES identity the function sends from (IAM resource)."
  type        = string
}

variable "files_bucket_name" {
  description = "TESSERA_FILES_S3_BUCKET."
  type        = string
}

variable "files_bucket_arn" {
  description = "ARN of the files bucket."
  type        = string
}

variable "files_kms_key_arn" {
  description = "KMS key of the files bucket."
  type        = string
}

variable "extra_environment" {
  description = "Further TESSERA_* settings (tuning). Cannot override the contract's variables."
  type        = map(string)
  default     = {}
}

# --- HTTP API --------------------------------------------------------------------------------

variable "throttling_burst_limit" {
  description = "API Gateway stage burst limit (requests)."
  type        = number
}

variable "throttling_rate_limit" {
  description = "API Gateway stage steady-state rate limit (requests per second)."
  type        = number
}

variable "custom_domain_name" {
  description = "Custom domain for the API (e.g. api.example.com); null = only the execute-api URL."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Hosted zone of custom_domain_name: when set, the ACM validation and alias records are created; otherwise create them by hand (terraform waits for the certificate to validate)."
  type        = string
  default     = null
}

variable "jwt_authorizer_route_keys" {
  description = "Route keys (e.g. \"GET /api/v1/admin/{proxy+}\") that API Gateway should guard with a Cognito JWT authorizer. Empty: Tessera checks tokens itself (it also accepts its own tokens)."
  type        = list(string)
  default     = []
}
