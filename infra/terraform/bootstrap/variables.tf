variable "aws_region" {
  description = "Region of the state bucket (use the environments' region); null = AWS_REGION / the profile."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "Name of the state bucket; null = tessera-tfstate-<account id>-<region>."
  type        = string
  default     = null
}

variable "state_version_retention_days" {
  description = "Days superseded state versions are kept (they allow rolling the state back)."
  type        = number
  default     = 90
}
