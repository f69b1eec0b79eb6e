output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (one per AZ)."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_id" {
  description = "Security group for the Lambda function."
  value       = aws_security_group.lambda.id
}

output "database_security_group_id" {
  description = "Security group for the Aurora cluster."
  value       = aws_security_group.database.id
}

output "proxy_security_group_id" {
  description = "Security group for RDS Proxy (null unless create_proxy_security_group)."
  value       = var.create_proxy_security_group ? aws_security_group.proxy[0].id : null
}

output "nat_public_ips" {
  description = "Public addresses the Lambda's outbound HTTPS comes from (empty without NAT)."
  value       = aws_eip.nat[*].public_ip
}
