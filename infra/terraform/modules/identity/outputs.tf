output "user_pool_id" {
  description = "ID of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "client_id" {
  description = "ID of the public app client (TESSERA_OIDC_AUDIENCE)."
  value       = aws_cognito_user_pool_client.app.id
}

output "issuer" {
  description = "OIDC issuer, https://cognito-idp.<region>.amazonaws.com/<user pool id> (TESSERA_OIDC_ISSUER)."
  value       = "https://${aws_cognito_user_pool.this.endpoint}"
}

output "hosted_ui_base_url" {
  description = "Base URL of the hosted UI / OAuth endpoints (/oauth2/authorize, /oauth2/token)."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com"
}
