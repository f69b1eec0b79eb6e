variable "name" {
  description = "Environment name prefix, e.g. tessera-stg. The deploy role may manage resources whose names start with it; the role itself is named github-actions-<name> (outside that prefix, so it cannot edit itself)."
  type        = string
}

variable "environment" {
  description = "Environment tag value (stg or prod); KMS keys are managed only when tagged with it."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the role, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "branches" {
  description = "Branches whose workflows may assume the role (sub = repo:<repo>:ref:refs/heads/<branch>)."
  type        = list(string)
  default     = []
}

variable "environments" {
  description = "GitHub environments whose jobs may assume the role (sub = repo:<repo>:environment:<env>). Protect them with required reviewers in GitHub."
  type        = list(string)
  default     = []
}

variable "tag_patterns" {
  description = "Tag patterns whose workflows may assume the role (sub = repo:<repo>:ref:refs/tags/<pattern>), e.g. v*. Jobs that declare an environment present the environment claim instead."
  type        = list(string)
  default     = []
}

variable "create_plan_role" {
  description = "Also create a read-only role for `terraform plan` on pull requests (sub = repo:<repo>:pull_request). Refreshing the secret versions needs GetSecretValue, so pull-request workflows can read the two application secrets: see the README."
  type        = bool
  default     = true
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider. There can be only one per account: set false in the second environment of a shared account."
  type        = bool
  default     = true
}

variable "state_bucket_name" {
  description = "Bucket with the Terraform state."
  type        = string
}

variable "state_key_prefix" {
  description = "Prefix of this environment's state objects in the bucket (e.g. tessera/stg/); the lock file lives next to the state."
  type        = string
}

variable "state_kms_key_arn" {
  description = "KMS key of the state bucket (bootstrap output); null if the bucket uses SSE-S3."
  type        = string
  default     = null
}

variable "artifact_bucket_name" {
  description = "Bucket CI uploads Lambda zips to and Lambda reads them from; null when the zip is uploaded directly."
  type        = string
  default     = null
}

variable "artifact_kms_key_arn" {
  description = "KMS key of the artifact bucket, if it uses SSE-KMS."
  type        = string
  default     = null
}

variable "mail_domain" {
  description = "Domain of the SES identity the environment manages."
  type        = string
}

variable "route53_zone_ids" {
  description = "Hosted zones the environment writes records to (API custom domain, SES DKIM); empty = none."
  type        = list(string)
  default     = []
}

variable "allow_bucket_emptying" {
  description = "Let the deploy role delete objects in the environment's buckets (needed by force_destroy; stg only)."
  type        = bool
  default     = false
}

variable "max_session_duration" {
  description = "Maximum session length of the deploy role in seconds."
  type        = number
  default     = 3600
}
