variable "name" {
  description = "Cluster identifier and name prefix, e.g. tessera-stg."
  type        = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL engine version (16.x). Check availability with `aws rds describe-db-engine-versions --engine aurora-postgresql`."
  type        = string
  default     = "16.6"

  validation {
    condition     = can(regex("^16\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be an Aurora PostgreSQL 16.x version such as 16.6."
  }
}

variable "database_name" {
  description = "Name of the database Tessera uses (appears in TESSERA_DATABASE_URL)."
  type        = string
  default     = "tessera"
}

variable "master_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "tessera_admin"
}

variable "subnet_ids" {
  description = "Private subnets (at least two AZs) for the cluster and the optional proxy."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the cluster."
  type        = string
}

variable "min_acu" {
  description = "Serverless v2 minimum capacity in ACUs (0.5 steps)."
  type        = number
}

variable "max_acu" {
  description = "Serverless v2 maximum capacity in ACUs."
  type        = number
}

variable "instance_count" {
  description = "Number of db.serverless instances: 1 = writer only, 2+ adds readers in other AZs for failover."
  type        = number
  default     = 1
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window), 1-35."
  type        = number
  default     = 7
}

variable "preferred_backup_window" {
  description = "Daily backup window (UTC), hh24:mi-hh24:mi."
  type        = string
  default     = "17:00-18:00"
}

variable "preferred_maintenance_window" {
  description = "Weekly maintenance window (UTC), ddd:hh24:mi-ddd:hh24:mi; must not overlap the backup window."
  type        = string
  default     = "sun:18:30-sun:19:30"
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster (prod: true)."
  type        = bool
  default     = true
}

variable "final_snapshot" {
  description = "Take a final snapshot named <name>-final when the cluster is destroyed (prod: true)."
  type        = bool
  default     = true
}

variable "apply_immediately" {
  description = "Apply modifications now instead of in the maintenance window."
  type        = bool
  default     = false
}

variable "secrets_kms_key_arn" {
  description = "KMS key for the RDS-managed master user secret (the key the Lambda may decrypt through Secrets Manager)."
  type        = string
}

variable "monitoring_interval" {
  description = "Enhanced monitoring interval in seconds (0 disables it; 1, 5, 10, 15, 30 or 60)."
  type        = number
  default     = 60
}

variable "performance_insights_retention_days" {
  description = "Performance Insights retention in days (7 is free)."
  type        = number
  default     = 7
}

variable "log_min_duration_statement_ms" {
  description = "Log statements slower than this many milliseconds (PostgreSQL log_min_duration_statement)."
  type        = number
  default     = 1000
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL log group, in days."
  type        = number
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the PostgreSQL log group."
  type        = string
}

variable "enable_proxy" {
  description = "Put RDS Proxy between the Lambda and Aurora (pools connections across many concurrent Lambdas)."
  type        = bool
  default     = false
}

variable "proxy_security_group_id" {
  description = "Security group of the proxy (required when enable_proxy)."
  type        = string
  default     = null
}
