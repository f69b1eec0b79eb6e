variable "name" {
  description = "Name prefix, e.g. tessera-stg (topic and alarm names)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the alarm topic (its policy must allow cloudwatch.amazonaws.com)."
  type        = string
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (the subscription must be confirmed from the e-mail); null = no subscription."
  type        = string
  default     = null
}

# --- what is watched -------------------------------------------------------------------------

variable "function_name" {
  description = "Lambda function name."
  type        = string
}

variable "api_id" {
  description = "HTTP API id."
  type        = string
}

variable "api_stage" {
  description = "HTTP API stage name."
  type        = string
  default     = "$default"
}

variable "db_cluster_identifier" {
  description = "Aurora cluster identifier."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "Name of the schedules' dead-letter queue."
  type        = string
}

# --- thresholds ------------------------------------------------------------------------------

variable "api_5xx_threshold" {
  description = "5xx responses per 5 minutes that raise the alarm."
  type        = number
  default     = 5
}

variable "api_latency_p99_threshold_ms" {
  description = "p99 API latency (ms) over 5 minutes that raises the alarm (3 of 3 periods)."
  type        = number
  default     = 3000
}

variable "lambda_duration_p99_threshold_ms" {
  description = "p99 Lambda duration (ms). Scheduled admission runs legitimately last ~50 s, so the default alarms only close to the 60 s timeout."
  type        = number
  default     = 55000
}

variable "db_cpu_threshold_percent" {
  description = "Aurora CPUUtilization (%) sustained for 15 minutes that raises the alarm."
  type        = number
  default     = 80
}

variable "db_connections_threshold" {
  description = "Aurora DatabaseConnections that raises the alarm (Lambda concurrency x 2 is the expected ceiling)."
  type        = number
}

variable "db_acu_utilization_threshold_percent" {
  description = "Aurora ACUUtilization (% of max ACU) sustained for 15 minutes that raises the alarm: the cluster is pinned at its ceiling."
  type        = number
  default     = 90
}
