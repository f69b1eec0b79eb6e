# The contract's outputs (names fixed: the deploy workflow and operators read them).

output "api_url" {
  description = "Base URL of the HTTP API (custom domain when configured)."
  value       = module.app.api_url
}

output "db_secret_arn" {
  description = "ARN of the RDS-managed Aurora master user secret."
  value       = module.database.master_user_secret_arn
}

output "files_bucket" {
  description = "Name of the files bucket."
  value       = module.storage.bucket_name
}

output "lambda_function_name" {
  description = "Name of the Tessera Lambda function."
  value       = module.app.function_name
}

output "cognito_user_pool_id" {
  description = "ID of the Cognito user pool."
  value       = module.identity.user_pool_id
}

output "cognito_client_id" {
  description = "ID of the Cognito app client."
  value       = module.identity.client_id
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms publish to."
  value       = module.monitoring.alarm_topic_arn
}

# Extras for the first deploy and the GitHub configuration.

output "github_deploy_role_arn" {
  description = "Set as the GitHub environment variable AWS_DEPLOY_ROLE_ARN."
  value       = module.github_oidc.deploy_role_arn
}

output "github_plan_role_arn" {
  description = "Set as the repository variable AWS_PLAN_ROLE_ARN_<ENV> (or AWS_PLAN_ROLE_ARN)."
  value       = module.github_oidc.plan_role_arn
}

output "cognito_hosted_ui_base_url" {
  description = "Base URL of the Cognito hosted UI / OAuth 2.0 endpoints."
  value       = module.identity.hosted_ui_base_url
}

output "ses_dns_records" {
  description = "DNS records the mail domain needs (created automatically with mail_route53_zone_id)."
  value       = module.mail.dns_records
}

output "api_certificate_validation_records" {
  description = "DNS records validating the API custom domain's certificate (without api_route53_zone_id)."
  value       = module.app.api_certificate_validation_records
}

output "nat_public_ips" {
  description = "Source addresses of the function's outbound internet traffic (empty without NAT)."
  value       = module.network.nat_public_ips
}
