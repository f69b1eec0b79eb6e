output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (the schedules' target)."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.lambda.arn
}

output "api_id" {
  description = "ID of the HTTP API (CloudWatch dimension ApiId)."
  value       = aws_apigatewayv2_api.this.id
}

output "api_stage" {
  description = "Stage name (CloudWatch dimension Stage)."
  value       = aws_apigatewayv2_stage.default.name
}

output "api_url" {
  description = "Base URL of the API: https://<custom domain> when configured, else the execute-api URL."
  value       = local.custom_domain ? "https://${var.custom_domain_name}" : aws_apigatewayv2_api.this.api_endpoint
}

output "api_certificate_validation_records" {
  description = "DNS records that validate the custom domain's certificate (create them by hand without route53_zone_id)."
  value = local.custom_domain ? [
    for o in aws_acm_certificate.api[0].domain_validation_options : {
      name  = o.resource_record_name
      type  = o.resource_record_type
      value = o.resource_record_value
    }
  ] : []
}

output "api_custom_domain_target" {
  description = "Regional API Gateway domain the custom domain's DNS must alias/CNAME to (null without a custom domain)."
  value       = local.custom_domain ? aws_apigatewayv2_domain_name.api[0].domain_name_configuration[0].target_domain_name : null
}
