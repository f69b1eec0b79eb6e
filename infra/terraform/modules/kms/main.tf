# One customer managed key per environment for the "platform" data: the Secrets Manager secrets
# (the two Tessera secrets and the RDS-managed master user secret), CloudWatch log groups, the
# alarm SNS topic, the Scheduler schedules and their dead-letter queue. The Lambda role may use it
# only through Secrets Manager (kms:ViaService), so sharing it does not widen what the function can
# decrypt. Data stores with their own blast radius (Aurora storage, the files bucket) get their own
# keys in their modules.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: secrets, logs, alarm topic, schedules and job queues"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days

  # Written with jsonencode rather than an aws_iam_policy_document: a key policy's Resource is
  # always "*" (it means "this key"), which IAM-policy linters would misread as a wildcard grant.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Standard statement: lets IAM policies in this account grant use of the key. Without it
        # only the key policy could, and the key could become unmanageable.
        Sid       = "EnableIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # CloudWatch Logs encrypts log groups itself and needs the grant in the key policy,
        # limited to log groups of this account and region.
        Sid       = "CloudWatchLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        # CloudWatch alarms publish to the KMS-encrypted alarm topic; SNS asks KMS on behalf of
        # the publishing service, so the service principal needs these two actions.
        Sid       = "CloudWatchAlarmsToEncryptedSns"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
