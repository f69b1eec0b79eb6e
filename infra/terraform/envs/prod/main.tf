# Composition of one Tessera environment. This file is identical in envs/stg and envs/prod
# (infra/check.sh verifies it); the environment's name is in env.tf and its sizes are variables.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  name       = "tessera-${local.environment}"
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  # Alarm when Aurora connections approach what the function can open: 2 per concurrent instance.
  db_connections_alarm = var.lambda_reserved_concurrency > 0 ? ceil(var.lambda_reserved_concurrency * 2 * 0.9) : var.db_connections_alarm_threshold

  route53_zone_ids = distinct([for z in [var.api_route53_zone_id, var.mail_route53_zone_id] : z if z != null])
}

module "kms" {
  source = "../../modules/kms"

  name = local.name
}

module "network" {
  source = "../../modules/network"

  name                        = local.name
  cidr_block                  = var.vpc_cidr
  availability_zones          = var.availability_zones
  enable_nat_gateway          = var.enable_nat_gateway
  single_nat_gateway          = var.single_nat_gateway
  create_proxy_security_group = var.db_enable_proxy
  flow_log_retention_days     = var.log_retention_days
  kms_key_arn                 = module.kms.key_arn
}

module "database" {
  source = "../../modules/database"

  name                    = local.name
  engine_version          = var.db_engine_version
  subnet_ids              = module.network.private_subnet_ids
  security_group_id       = module.network.database_security_group_id
  min_acu                 = var.db_min_acu
  max_acu                 = var.db_max_acu
  instance_count          = var.db_instance_count
  backup_retention_days   = var.db_backup_retention_days
  deletion_protection     = var.db_deletion_protection
  final_snapshot          = var.db_final_snapshot
  monitoring_interval     = var.db_monitoring_interval
  secrets_kms_key_arn     = module.kms.key_arn
  log_retention_days      = var.log_retention_days
  logs_kms_key_arn        = module.kms.key_arn
  enable_proxy            = var.db_enable_proxy
  proxy_security_group_id = module.network.proxy_security_group_id
}

module "secrets" {
  source = "../../modules/secrets"

  name                      = local.name
  kms_key_arn               = module.kms.key_arn
  recovery_window_in_days   = var.secrets_recovery_window_days
  jwt_secret_version        = var.jwt_secret_version
  ticket_master_key_version = var.ticket_master_key_version
}

module "storage" {
  source = "../../modules/storage"

  # Bucket names are global: account and region make them unique without a random suffix.
  bucket_name                        = "${local.name}-files-${local.account_id}-${local.region}"
  purpose                            = "Tessera ${local.environment} files"
  force_destroy                      = var.files_force_destroy
  noncurrent_version_expiration_days = var.files_noncurrent_version_expiration_days
}

module "mail" {
  source = "../../modules/mail"

  name                = local.name
  domain              = var.mail_domain
  route53_zone_id     = var.mail_route53_zone_id
  mail_from_subdomain = var.mail_from_subdomain
}

module "identity" {
  source = "../../modules/identity"

  name                   = local.name
  domain_prefix          = var.cognito_domain_prefix
  callback_urls          = var.cognito_callback_urls
  logout_urls            = var.cognito_logout_urls
  user_pool_tier         = var.cognito_user_pool_tier
  threat_protection_mode = var.cognito_threat_protection_mode
  deletion_protection    = var.cognito_deletion_protection

  ses_email = var.cognito_email_via_ses ? {
    source_arn        = module.mail.identity_arn
    from_address      = var.mail_from
    configuration_set = module.mail.configuration_set_name
  } : null
}

module "app" {
  source = "../../modules/app"

  name          = local.name
  function_name = local.name

  architecture      = var.lambda_architecture
  zip_path          = var.lambda_zip_path
  s3_bucket         = var.lambda_s3_bucket
  s3_key            = var.lambda_s3_key
  s3_object_version = var.lambda_s3_object_version

  reserved_concurrency = var.lambda_reserved_concurrency
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.lambda_security_group_id]
  log_retention_days   = var.log_retention_days
  logs_kms_key_arn     = module.kms.key_arn

  database_url               = module.database.database_url
  db_secret_arn              = module.database.master_user_secret_arn
  jwt_secret_arn             = module.secrets.jwt_secret_arn
  ticket_master_key_arn      = module.secrets.ticket_master_key_arn
  secrets_kms_key_arn        = module.kms.key_arn
  oidc_issuer                = module.identity.issuer
  oidc_audience              = module.identity.client_id
  mail_from                  = var.mail_from
  ses_configuration_set_name = module.mail.configuration_set_name
  ses_configuration_set_arn  = module.mail.configuration_set_arn
  ses_identity_arn           = module.mail.identity_arn
  files_bucket_name          = module.storage.bucket_name
  files_bucket_arn           = module.storage.bucket_arn
  files_kms_key_arn          = module.storage.kms_key_arn
  extra_environment          = var.lambda_extra_environment

  throttling_burst_limit    = var.api_throttling_burst_limit
  throttling_rate_limit     = var.api_throttling_rate_limit
  custom_domain_name        = var.api_custom_domain_name
  route53_zone_id           = var.api_route53_zone_id
  jwt_authorizer_route_keys = var.jwt_authorizer_route_keys
}

module "jobs" {
  source = "../../modules/jobs"

  name         = local.name
  function_arn = module.app.function_arn
  kms_key_arn  = module.kms.key_arn
  enabled      = var.jobs_enabled
}

module "monitoring" {
  source = "../../modules/monitoring"

  name                     = local.name
  kms_key_arn              = module.kms.key_arn
  alarm_email              = var.alarm_email
  function_name            = module.app.function_name
  api_id                   = module.app.api_id
  api_stage                = module.app.api_stage
  db_cluster_identifier    = module.database.cluster_identifier
  dead_letter_queue_name   = module.jobs.dead_letter_queue_name
  db_connections_threshold = local.db_connections_alarm
}

module "github_oidc" {
  source = "../../modules/github-oidc"

  name                  = local.name
  environment           = local.environment
  github_repository     = var.github_repository
  branches              = var.github_branches
  environments          = var.github_environments
  tag_patterns          = var.github_tag_patterns
  create_oidc_provider  = var.github_create_oidc_provider
  create_plan_role      = var.github_create_plan_role
  state_bucket_name     = var.state_bucket_name
  state_key_prefix      = "tessera/${local.environment}/"
  state_kms_key_arn     = var.state_kms_key_arn
  artifact_bucket_name  = var.lambda_s3_bucket
  mail_domain           = var.mail_domain
  route53_zone_ids      = local.route53_zone_ids
  allow_bucket_emptying = var.files_force_destroy
}
