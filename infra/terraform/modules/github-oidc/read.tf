# What `terraform plan` reads: attached to the deploy role and the plan role.

# ---------------------------------------------------------------------------------------------
# Read, part 1: state, discovery, IAM, keys, secrets (both roles)
# ---------------------------------------------------------------------------------------------

# Two read calls the provider makes as lists without an identifier (RDS cluster refresh looks
# for a global cluster membership; alarm refresh lists alarms by name): AWS evaluates them
# against "*", so they cannot be scoped to this environment's ARNs. Both return metadata only.
data "aws_iam_policy_document" "read_unscoped" {
  #checkov:skip=CKV_AWS_356:rds:DescribeGlobalClusters (with a filter) and cloudwatch:DescribeAlarms (by name) are read-only list calls the provider makes without a resource identifier; they need "*".
  statement {
    sid       = "ListCallsWithoutIdentifier"
    actions   = ["rds:DescribeGlobalClusters", "cloudwatch:DescribeAlarms"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "read" {
  source_policy_documents = [data.aws_iam_policy_document.read_unscoped.json]

  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.p}:s3:::${var.state_bucket_name}"]
  }

  statement {
    sid       = "StateRead"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.p}:s3:::${var.state_bucket_name}/${var.state_key_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.state_kms_key_arn == null ? [] : [var.state_kms_key_arn]

    content {
      sid       = "StateKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # Describe/List calls without resource-level permissions (AWS requires "*"); none returns
  # secret values or object data.
  statement {
    sid = "DescribeWithoutResourceArns"
    actions = [
      "ec2:DescribeAccountAttributes",
      "ec2:DescribeAddresses",
      "ec2:DescribeAddressesAttribute",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeFlowLogs",
      "ec2:DescribeInternetGateways",
      "ec2:DescribeManagedPrefixLists",
      "ec2:DescribeNatGateways",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribePrefixLists",
      "ec2:DescribeRegions",
      "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeTags",
      "ec2:DescribeVpcEndpointServices",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeVpcs",
      "rds:DescribeDBEngineVersions",
      "rds:DescribeOrderableDBInstanceOptions",
      "kms:ListAliases",
      "secretsmanager:ListSecrets",
      "secretsmanager:GetRandomPassword", # modules/secrets generates values with it (plan opens it too)
      "logs:DescribeLogGroups",
      "logs:DescribeResourcePolicies",
      "acm:ListCertificates",
      "cognito-idp:DescribeUserPoolDomain",
      "iam:ListOpenIDConnectProviders",
      "lambda:GetAccountSettings",
      "ses:GetAccount",
      "s3:ListAllMyBuckets",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadIam"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
      "iam:ListPolicyVersions",
      "iam:GetOpenIDConnectProvider",
    ]
    resources = [
      local.arn.roles,
      "arn:${local.p}:iam::${local.a}:role/github-actions-${local.n}*",
      "arn:${local.p}:iam::${local.a}:policy/github-actions-${local.n}-*",
      "arn:${local.p}:iam::${local.a}:oidc-provider/${local.oidc_host}",
      "arn:${local.p}:iam::aws:policy/*",
    ]
  }

  statement {
    sid       = "ReadKeys"
    actions   = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
    resources = [local.arn.kms_keys]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }
  }

  # Refreshing aws_secretsmanager_secret_version calls GetSecretValue (the value itself is
  # write-only and never stored in the state).
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:GetSecretValue"]
    resources = [local.arn.secrets]
  }

  statement {
    sid       = "DecryptSecretsViaSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [local.arn.kms_keys]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.r}.amazonaws.com"]
    }
  }

}

# Read, part 2: refresh of the environment's resources, scoped by ARN.
data "aws_iam_policy_document" "read_resources" {
  statement {
    sid = "ReadResources"
    actions = [
      "ec2:DescribeVpcAttribute",
      "rds:DescribeDBClusters",
      "rds:DescribeDBInstances",
      "rds:DescribeDBSubnetGroups",
      "rds:DescribeDBClusterParameterGroups",
      "rds:DescribeDBClusterParameters",
      "rds:DescribeDBProxies",
      "rds:DescribeDBProxyTargetGroups",
      "rds:DescribeDBProxyTargets",
      "rds:ListTagsForResource",
      "s3:ListBucket",
      "s3:GetBucket*",
      "s3:GetAccelerateConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "lambda:GetFunction",
      "lambda:GetFunctionConfiguration",
      "lambda:GetFunctionCodeSigningConfig",
      "lambda:GetRuntimeManagementConfig",
      "lambda:GetFunctionConcurrency",
      "lambda:GetFunctionEventInvokeConfig",
      "lambda:GetPolicy",
      "lambda:ListVersionsByFunction",
      "lambda:ListTags",
      "apigateway:GET",
      "acm:DescribeCertificate",
      "acm:ListTagsForCertificate",
      "cognito-idp:DescribeUserPool",
      "cognito-idp:GetUserPoolMfaConfig",
      "cognito-idp:DescribeUserPoolClient",
      "cognito-idp:GetGroup",
      "cognito-idp:ListGroups",
      "cognito-idp:ListTagsForResource",
      "ses:GetConfigurationSet",
      "ses:GetConfigurationSetEventDestinations",
      "ses:GetEmailIdentity",
      "ses:ListTagsForResource",
      "scheduler:GetScheduleGroup",
      "scheduler:GetSchedule",
      "scheduler:ListTagsForResource",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListQueueTags",
      "sns:GetTopicAttributes",
      "sns:GetSubscriptionAttributes",
      "sns:ListSubscriptionsByTopic",
      "sns:ListTagsForResource",
      "cloudwatch:ListTagsForResource",
      "logs:ListTagsForResource",
    ]
    resources = concat(
      ["arn:${local.p}:ec2:${local.r}:${local.a}:vpc/*"],
      local.arn.rds,
      local.arn.rds_proxy,
      [local.arn.buckets, local.arn.function, local.arn.certificates, local.arn.user_pools],
      local.arn.apis,
      local.arn.ses,
      local.arn.jobs,
      local.arn.monitoring,
      local.arn.log_groups,
    )
  }

  dynamic "statement" {
    for_each = length(local.arn.zones) > 0 ? [1] : []

    content {
      sid       = "ReadDns"
      actions   = ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource", "route53:GetChange"]
      resources = concat(local.arn.zones, ["arn:${local.p}:route53:::change/*"])
    }
  }
}
