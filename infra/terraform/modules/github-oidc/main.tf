# GitHub Actions -> AWS without stored keys: the account's OIDC provider for
# token.actions.githubusercontent.com, a deploy role per environment whose trust is limited to one
# repository and chosen branches / GitHub environments / tags, and optionally a read-only plan role
# for pull requests (the deploy workflow plans stg and prod on every pull request). The policy
# documents are in read.tf (plan and deploy roles) and write.tf (deploy role only).
#
# What the roles may do is scoped, in order of preference, by resource name (everything this
# configuration creates is named <name>-*), by resource tag (KMS keys), by this account and region
# (services whose ARNs carry random ids: EC2, Cognito, ACM, RDS Proxy), and only where AWS offers
# nothing finer by "*" (read-only Describe/List calls and a few calls without a resource ARN; each
# is commented).
#
# Known limit: the deploy role can create and edit IAM roles named <name>-* (the workload roles),
# an escalation path inside that prefix. Managed-policy attachment is limited to the three AWS
# policies the workload uses; if the account hosts other workloads, give the workload roles a
# permissions boundary and require it here. The roles cannot change themselves or the OIDC
# provider (both are outside the write scope): an administrator applies such changes.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  p = data.aws_partition.current.partition
  a = data.aws_caller_identity.current.account_id
  r = data.aws_region.current.name
  n = var.name

  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn

  deploy_subjects = concat(
    [for b in var.branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
    [for e in var.environments : "repo:${var.github_repository}:environment:${e}"],
    [for t in var.tag_patterns : "repo:${var.github_repository}:ref:refs/tags/${t}"],
  )
  plan_subjects = ["repo:${var.github_repository}:pull_request"]

  # AWS managed policies the workload roles use; nothing else may be attached.
  attachable_policies = [
    "arn:${local.p}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:${local.p}:iam::aws:policy/AWSXRayDaemonWriteAccess",
    "arn:${local.p}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
  ]

  # ARNs of what the environment owns, by service.
  arn = {
    roles      = "arn:${local.p}:iam::${local.a}:role/${local.n}-*"
    kms_keys   = "arn:${local.p}:kms:${local.r}:${local.a}:key/*"
    kms_alias  = "arn:${local.p}:kms:${local.r}:${local.a}:alias/${local.n}*"
    secrets    = "arn:${local.p}:secretsmanager:${local.r}:${local.a}:secret:${local.n}/*"
    rds_secret = "arn:${local.p}:secretsmanager:${local.r}:${local.a}:secret:rds!*"
    buckets    = "arn:${local.p}:s3:::${local.n}-*"
    function   = "arn:${local.p}:lambda:${local.r}:${local.a}:function:${local.n}*"
    user_pools = "arn:${local.p}:cognito-idp:${local.r}:${local.a}:userpool/*"
    ses = [
      "arn:${local.p}:ses:${local.r}:${local.a}:configuration-set/${local.n}",
      "arn:${local.p}:ses:${local.r}:${local.a}:identity/${var.mail_domain}",
    ]
    jobs = [
      "arn:${local.p}:scheduler:${local.r}:${local.a}:schedule-group/${local.n}",
      "arn:${local.p}:scheduler:${local.r}:${local.a}:schedule/${local.n}/*",
      "arn:${local.p}:sqs:${local.r}:${local.a}:${local.n}-*",
    ]
    monitoring = [
      "arn:${local.p}:sns:${local.r}:${local.a}:${local.n}-*",
      "arn:${local.p}:cloudwatch:${local.r}:${local.a}:alarm:${local.n}-*",
    ]
    certificates = "arn:${local.p}:acm:${local.r}:${local.a}:certificate/*"
    # API Gateway ARNs have no account field: this region's APIs and domain names.
    apis = [
      "arn:${local.p}:apigateway:${local.r}::/apis",
      "arn:${local.p}:apigateway:${local.r}::/apis/*",
      "arn:${local.p}:apigateway:${local.r}::/domainnames",
      "arn:${local.p}:apigateway:${local.r}::/domainnames/*",
      "arn:${local.p}:apigateway:${local.r}::/tags/*",
    ]
    rds = [
      "arn:${local.p}:rds:${local.r}:${local.a}:cluster:${local.n}*",
      "arn:${local.p}:rds:${local.r}:${local.a}:db:${local.n}*",
      "arn:${local.p}:rds:${local.r}:${local.a}:subgrp:${local.n}*",
      "arn:${local.p}:rds:${local.r}:${local.a}:cluster-pg:${local.n}*",
      "arn:${local.p}:rds:${local.r}:${local.a}:cluster-snapshot:${local.n}*",
    ]
    # RDS Proxy ids are random (prx-...): this account and region.
    rds_proxy = [
      "arn:${local.p}:rds:${local.r}:${local.a}:db-proxy:*",
      "arn:${local.p}:rds:${local.r}:${local.a}:target-group:*",
    ]
    log_groups = flatten([
      for g in ["/aws/lambda/", "/aws/apigateway/", "/aws/vpc-flow-logs/", "/aws/rds/cluster/"] : [
        "arn:${local.p}:logs:${local.r}:${local.a}:log-group:${g}${local.n}*",
        "arn:${local.p}:logs:${local.r}:${local.a}:log-group:${g}${local.n}*:*",
      ]
    ])
    zones = [for z in var.route53_zone_ids : "arn:${local.p}:route53:::hostedzone/${z}"]
  }
}

# ---------------------------------------------------------------------------------------------
# OIDC provider and roles
# ---------------------------------------------------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS checks GitHub's certificate against its own trust store and ignores thumbprints for this
  # provider; GitHub's published ones are listed for tooling that still expects a value.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = "https://${local.oidc_host}"
}

data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.oidc_host}:sub"
      values   = local.deploy_subjects
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "github-actions-${local.n}"
  description          = "GitHub Actions (${var.github_repository}) applies ${local.n}"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = var.max_session_duration

  lifecycle {
    precondition {
      condition     = length(local.deploy_subjects) > 0
      error_message = "Give at least one of branches, environments or tag_patterns."
    }
  }
}

data "aws_iam_policy_document" "plan_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Pull requests of this repository only; GitHub issues no token to pull requests from forks.
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = local.plan_subjects
    }
  }
}

resource "aws_iam_role" "plan" {
  count = var.create_plan_role ? 1 : 0

  name                 = "github-actions-${local.n}-plan"
  description          = "GitHub Actions (${var.github_repository}) plans ${local.n} on pull requests (read-only)"
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = var.max_session_duration
}

# ---------------------------------------------------------------------------------------------
# Managed policies (each is limited to 6,144 characters, hence five) and attachments
# ---------------------------------------------------------------------------------------------

resource "aws_iam_policy" "this" {
  for_each = {
    read           = data.aws_iam_policy_document.read.json
    read-resources = data.aws_iam_policy_document.read_resources.json
    write-core     = data.aws_iam_policy_document.write_core.json
    write-platform = data.aws_iam_policy_document.write_platform.json
    write-app      = data.aws_iam_policy_document.write_app.json
  }

  name        = "github-actions-${local.n}-${each.key}"
  description = "GitHub Actions for ${local.n}: ${each.key}"
  policy      = each.value
}

resource "aws_iam_role_policy_attachment" "deploy" {
  for_each = aws_iam_policy.this

  role       = aws_iam_role.deploy.name
  policy_arn = each.value.arn
}

resource "aws_iam_role_policy_attachment" "plan" {
  for_each = var.create_plan_role ? toset(["read", "read-resources"]) : toset([])

  role       = aws_iam_role.plan[0].name
  policy_arn = aws_iam_policy.this[each.key].arn
}
