output "cluster_identifier" {
  description = "Aurora cluster identifier (CloudWatch dimension DBClusterIdentifier)."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the Aurora cluster."
  value       = aws_rds_cluster.this.arn
}

output "writer_endpoint" {
  description = "Cluster (writer) endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "connect_host" {
  description = "Host the application connects to: the RDS Proxy endpoint when enabled, else the writer endpoint."
  value       = local.connect_host
}

output "database_url" {
  description = "TESSERA_DATABASE_URL: no credentials, TLS required."
  value       = "postgres://${local.connect_host}:${aws_rds_cluster.this.port}/${var.database_name}?sslmode=require"
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed master user secret (JSON with username and password)."
  value       = local.master_secret
}

output "max_acu" {
  description = "Configured maximum ACUs (for the capacity alarm)."
  value       = var.max_acu
}
