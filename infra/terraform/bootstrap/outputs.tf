output "state_bucket" {
  description = "Bucket for backend.hcl / TF_STATE_BUCKET and the envs' state_bucket_name."
  value       = module.state.bucket_name
}

output "state_kms_key_arn" {
  description = "KMS key of the state bucket (the envs' state_kms_key_arn)."
  value       = module.state.kms_key_arn
}

output "state_access_log_bucket" {
  description = "Bucket with the state bucket's S3 server access logs."
  value       = module.state.log_bucket_name
}
