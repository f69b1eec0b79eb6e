variable "name" {
  description = "Name prefix; the secrets are named <name>/jwt-secret and <name>/ticket-master-key."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the secrets (the key the Lambda may decrypt through Secrets Manager)."
  type        = string
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; 7-30 otherwise)."
  type        = number
  default     = 30
}

variable "jwt_secret_version" {
  description = "Generation of the JWT secret: bump it to write a new random value (logs every session out)."
  type        = number
  default     = 1
}

variable "ticket_master_key_version" {
  description = "Generation of the ticket master key: bump it only to replace the key on purpose (tickets already issued stop verifying)."
  type        = number
  default     = 1
}
