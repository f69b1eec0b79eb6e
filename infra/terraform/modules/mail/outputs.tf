output "configuration_set_name" {
  description = "Name of the SES configuration set (TESSERA_SES_CONFIGURATION_SET)."
  value       = aws_sesv2_configuration_set.this.configuration_set_name
}

output "configuration_set_arn" {
  description = "ARN of the SES configuration set."
  value       = aws_sesv2_configuration_set.this.arn
}

output "identity_arn" {
  description = "ARN of the SES domain identity."
  value       = aws_sesv2_email_identity.domain.arn
}

output "dns_records" {
  description = "DNS records the domain needs (DKIM CNAMEs, optional MAIL FROM MX/SPF); created automatically when route53_zone_id is set."
  value       = local.dns_records
}
