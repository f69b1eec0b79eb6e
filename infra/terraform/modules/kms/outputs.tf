output "key_arn" {
  description = "ARN of the environment's platform KMS key."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the environment's platform KMS key."
  value       = aws_kms_key.this.key_id
}
