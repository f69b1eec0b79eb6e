# EventBridge Scheduler runs Tessera's periodic work by invoking the same Lambda function with a
# JSON input naming the job (the contract; `tessera jobs run --job <name>` does the same by hand):
#   {"tessera_job":"jobs"}       every minute     due e-mail and bulk-send jobs
#   {"tessera_job":"admission"}  every minute     admits people from waiting rooms (ticks up to 50 s)
#   {"tessera_job":"holds"}      every 5 minutes  expires lapsed holds and rate-limit windows
# Invocations Scheduler cannot deliver are retried, then sent to an encrypted SQS dead-letter queue.

data "aws_caller_identity" "current" {}

locals {
  jobs = {
    jobs      = { expression = "rate(1 minute)", max_event_age = 60 }
    admission = { expression = "rate(1 minute)", max_event_age = 60 }
    holds     = { expression = "rate(5 minutes)", max_event_age = 300 }
  }
}

resource "aws_scheduler_schedule_group" "this" {
  name = var.name
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name}-jobs-dlq"
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Confused-deputy guard: only this account's schedules in this group may use the role.
    # (AWS documents the schedule group's ARN as the source; the schedule ARN pattern is
    # accepted as well so the guard holds either way.)
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values = [
        aws_scheduler_schedule_group.this.arn,
        "${replace(aws_scheduler_schedule_group.this.arn, ":schedule-group/", ":schedule/")}/*",
      ]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeTessera"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.function_arn, "${var.function_arn}:*"]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # The DLQ and the schedule payloads are encrypted with the platform key.
  statement {
    sid       = "UseKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-tessera"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "job" {
  for_each = local.jobs

  name                         = "${var.name}-${each.key}"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "Tessera job '${each.key}'"
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "UTC"
  state                        = var.enabled ? "ENABLED" : "DISABLED"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF" # ticks must be on time: admission and holds are time-sensitive
  }

  target {
    arn      = var.function_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ tessera_job = each.key })

    retry_policy {
      # A tick older than its period is superseded by the next one.
      maximum_event_age_in_seconds = each.value.max_event_age
      maximum_retry_attempts       = var.maximum_retry_attempts
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
