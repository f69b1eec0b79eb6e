# Alarm topic (KMS-encrypted SNS, optional e-mail subscription) and the alarms that matter for
# Tessera: API 5xx and latency, Lambda errors/throttles/duration, Aurora CPU, connections and
# capacity, and dead-lettered job invocations. Log groups live with the resources that write
# them (app, network, database), all with the environment's retention and KMS key.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  actions = [aws_sns_topic.alarms.arn]

  # Every alarm: name suffix => settings. One resource block keeps the alarms uniform.
  alarms = {
    api-5xx = {
      description = "HTTP API returned ${var.api_5xx_threshold}+ 5xx responses in 5 minutes"
      namespace   = "AWS/ApiGateway"
      metric      = "5xx"
      dimensions  = { ApiId = var.api_id, Stage = var.api_stage }
      statistic   = "Sum"
      extended    = null
      period      = 300
      evaluations = 1
      datapoints  = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = var.api_5xx_threshold
    }
    api-latency-p99 = {
      description = "HTTP API p99 latency above ${var.api_latency_p99_threshold_ms} ms for 15 minutes"
      namespace   = "AWS/ApiGateway"
      metric      = "Latency"
      dimensions  = { ApiId = var.api_id, Stage = var.api_stage }
      statistic   = null
      extended    = "p99"
      period      = 300
      evaluations = 3
      datapoints  = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.api_latency_p99_threshold_ms
    }
    lambda-errors = {
      description = "Tessera Lambda invocations failed (HTTP or scheduled jobs)"
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = var.function_name }
      statistic   = "Sum"
      extended    = null
      period      = 300
      evaluations = 1
      datapoints  = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 1
    }
    lambda-throttles = {
      description = "Tessera Lambda was throttled (reserved concurrency reached)"
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = var.function_name }
      statistic   = "Sum"
      extended    = null
      period      = 300
      evaluations = 1
      datapoints  = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 1
    }
    lambda-duration-p99 = {
      description = "Tessera Lambda p99 duration above ${var.lambda_duration_p99_threshold_ms} ms (close to the timeout)"
      namespace   = "AWS/Lambda"
      metric      = "Duration"
      dimensions  = { FunctionName = var.function_name }
      statistic   = null
      extended    = "p99"
      period      = 300
      evaluations = 3
      datapoints  = 2
      comparison  = "GreaterThanThreshold"
      threshold   = var.lambda_duration_p99_threshold_ms
    }
    aurora-cpu = {
      description = "Aurora CPU above ${var.db_cpu_threshold_percent}% for 15 minutes"
      namespace   = "AWS/RDS"
      metric      = "CPUUtilization"
      dimensions  = { DBClusterIdentifier = var.db_cluster_identifier }
      statistic   = "Average"
      extended    = null
      period      = 300
      evaluations = 3
      datapoints  = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.db_cpu_threshold_percent
    }
    aurora-connections = {
      description = "Aurora connections above ${var.db_connections_threshold}"
      namespace   = "AWS/RDS"
      metric      = "DatabaseConnections"
      dimensions  = { DBClusterIdentifier = var.db_cluster_identifier }
      statistic   = "Maximum"
      extended    = null
      period      = 300
      evaluations = 2
      datapoints  = 2
      comparison  = "GreaterThanThreshold"
      threshold   = var.db_connections_threshold
    }
    aurora-acu-utilization = {
      description = "Aurora Serverless v2 above ${var.db_acu_utilization_threshold_percent}% of its maximum ACU for 15 minutes (raise max ACU?)"
      namespace   = "AWS/RDS"
      metric      = "ACUUtilization"
      dimensions  = { DBClusterIdentifier = var.db_cluster_identifier }
      statistic   = "Average"
      extended    = null
      period      = 300
      evaluations = 3
      datapoints  = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.db_acu_utilization_threshold_percent
    }
    jobs-dead-letters = {
      description = "Scheduled job invocations could not be delivered to the Lambda (see the DLQ)"
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = var.dead_letter_queue_name }
      statistic   = "Maximum"
      extended    = null
      period      = 300
      evaluations = 1
      datapoints  = 1
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  datapoints_to_alarm = each.value.datapoints
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold

  # No data (no traffic, paused jobs, scaled-down cluster) is not a problem by itself.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = local.actions
  ok_actions         = local.actions
}
