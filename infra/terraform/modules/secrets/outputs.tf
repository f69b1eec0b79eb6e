output "jwt_secret_arn" {
  description = "ARN of the JWT secret (TESSERA_JWT_SECRET_ARN)."
  value       = aws_secretsmanager_secret.jwt.arn
}

output "ticket_master_key_arn" {
  description = "ARN of the ticket master key secret (TESSERA_TICKET_MASTER_KEY_ARN)."
  value       = aws_secretsmanager_secret.ticket_master_key.arn
}
