# The Tessera Lambda function (runtime provided.al2023, handler bootstrap), its role and log group.
# The HTTP API in front of it is in api.tf.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  use_s3    = var.s3_bucket != null

  # The contract's environment; merged last so extra_environment cannot override it.
  contract_environment = {
    TESSERA_DATABASE_URL          = var.database_url
    TESSERA_DB_SECRET_ARN         = var.db_secret_arn
    TESSERA_DB_MAX_CONNECTIONS    = "2"
    TESSERA_JWT_SECRET_ARN        = var.jwt_secret_arn
    TESSERA_TICKET_MASTER_KEY_ARN = var.ticket_master_key_arn
    TESSERA_OIDC_ISSUER           = var.oidc_issuer
    TESSERA_OIDC_AUDIENCE         = var.oidc_audience
    TESSERA_MAIL_TRANSPORT        = "ses"
    TESSERA_MAIL_FROM             = var.mail_from
    TESSERA_SES_CONFIGURATION_SET = var.ses_configuration_set_name
    TESSERA_FILES_S3_BUCKET       = var.files_bucket_name
    TESSERA_PDF_FONT              = "/var/task/fonts/NotoSansCJK-Regular.ttc"
    TESSERA_LOG_FORMAT            = "json"
    TESSERA_SECURE_COOKIES        = "true"
  }
}

# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

# The default log group name, created here so it has a retention and KMS encryption.
resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is a per-environment cost decision (log_retention_days: 7 days in stg, 90 in prod); long-term audit trails belong in CloudTrail, not application logs.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

# ---------------------------------------------------------------------------------------------
# Execution role
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.function_name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# ENI management for VPC access (plus log writing); named by the contract.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# xray:PutTraceSegments / PutTelemetryRecords / sampling rules; X-Ray has no resource-level permissions.
resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid     = "ReadSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      var.db_secret_arn,
      var.jwt_secret_arn,
      var.ticket_master_key_arn,
    ]
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.secrets_kms_key_arn]

    # Only when Secrets Manager asks on the function's behalf: the same key also encrypts logs etc.
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ListFiles"
    actions   = ["s3:ListBucket"]
    resources = [var.files_bucket_arn]
  }

  statement {
    sid = "ReadWriteFiles"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.files_bucket_arn}/*"]
  }

  # SSE-KMS on the files bucket: reading needs Decrypt, writing needs GenerateDataKey.
  statement {
    sid       = "FilesKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.files_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  # SESv2 SendEmail is authorised as ses:SendEmail (ses:SendRawEmail for raw MIME); both the
  # identity and the configuration set are resources of the call.
  statement {
    sid     = "SendMail"
    actions = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [
      var.ses_identity_arn,
      var.ses_configuration_set_arn,
    ]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "tessera"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# ---------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Only EventBridge Scheduler invokes asynchronously and each job runs again at its next tick; failed deliveries go to the schedules' SQS dead-letter queue and errors raise the Lambda Errors alarm.
  #checkov:skip=CKV_AWS_272:Code signing (AWS Signer) is not part of the build pipeline yet; artifacts come from CI through the OIDC deploy role only.
  #checkov:skip=CKV_AWS_173:The environment holds ARNs, hostnames and flags only; secrets are fetched from Secrets Manager at start, so a CMK on the environment adds nothing (the default AWS-managed key still encrypts it).
  function_name = var.function_name
  description   = "Tessera event-ticketing backend (HTTP API and scheduled jobs)"
  role          = aws_iam_role.lambda.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  reserved_concurrent_executions = var.reserved_concurrency

  filename          = local.use_s3 ? null : var.zip_path
  source_code_hash  = local.use_s3 ? null : filebase64sha256(var.zip_path)
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text" # Tessera already writes JSON lines (TESSERA_LOG_FORMAT=json)
    log_group  = aws_cloudwatch_log_group.lambda.name
  }

  environment {
    variables = merge(var.extra_environment, local.contract_environment)
  }

  lifecycle {
    precondition {
      condition     = local.use_s3 ? var.s3_key != null : var.zip_path != null
      error_message = "Set either zip_path, or s3_bucket and s3_key."
    }
  }

  # The role must be able to create ENIs before the function is created in the VPC.
  depends_on = [
    aws_iam_role_policy_attachment.vpc_access,
    aws_iam_role_policy.lambda,
  ]
}

# Asynchronous invocations come only from the schedules. A failed or throttled tick is not worth
# retrying: the same job runs again at the next tick, and retries would overlap with it.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
