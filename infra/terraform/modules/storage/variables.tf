variable "bucket_name" {
  description = "Name of the bucket (globally unique; the envs use <name>-files-<account>-<region>)."
  type        = string
}

variable "log_bucket_name" {
  description = "Name of the bucket that receives the S3 server access logs (default: <bucket_name>-logs)."
  type        = string
  default     = null
}

variable "purpose" {
  description = "Short description used in the KMS key description and tags."
  type        = string
  default     = "Tessera files"
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (stg only)."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten/deleted object versions are removed."
  type        = number
  default     = 90
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost storage)."
  type        = number
  default     = 7
}

variable "access_log_expiration_days" {
  description = "Days the S3 server access logs are kept."
  type        = number
  default     = 365
}
