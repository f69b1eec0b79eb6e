output "deploy_role_arn" {
  description = "ARN of the deploy role (GitHub environment variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "ARN of the read-only plan role for pull requests (AWS_PLAN_ROLE_ARN[_STG|_PROD]); null when not created."
  value       = var.create_plan_role ? aws_iam_role.plan[0].arn : null
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider."
  value       = local.oidc_provider_arn
}

output "deploy_subjects" {
  description = "The `sub` claims the deploy role trusts."
  value       = local.deploy_subjects
}
