variable "name" {
  description = "Name prefix, e.g. tessera-stg (schedule group, role, queue)."
  type        = string
}

variable "function_arn" {
  description = "ARN of the Tessera Lambda function the schedules invoke."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the schedules' payloads and the dead-letter queue."
  type        = string
}

variable "enabled" {
  description = "Whether the schedules run (set false to pause all jobs, e.g. during a migration)."
  type        = bool
  default     = true
}

variable "maximum_retry_attempts" {
  description = "How often Scheduler retries an invocation it could not deliver (throttling, service errors) before dead-lettering it."
  type        = number
  default     = 2
}

variable "dlq_message_retention_seconds" {
  description = "How long dead-lettered invocations are kept (max 14 days)."
  type        = number
  default     = 1209600
}
