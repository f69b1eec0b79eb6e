# What `terraform apply` changes: attached to the deploy role only.

# ---------------------------------------------------------------------------------------------
# Write 1: state, IAM, KMS, Secrets Manager
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "write_core" {
  statement {
    sid       = "StateWrite"
    actions   = ["s3:PutObject", "s3:DeleteObject"] # state and its .tflock lock file
    resources = ["arn:${local.p}:s3:::${var.state_bucket_name}/${var.state_key_prefix}*"]
  }

  statement {
    sid = "WorkloadRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = [local.arn.roles]
  }

  statement {
    sid       = "AttachOnlyWorkloadManagedPolicies"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = [local.arn.roles]

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = local.attachable_policies
    }
  }

  statement {
    sid       = "PassWorkloadRoles"
    actions   = ["iam:PassRole"]
    resources = [local.arn.roles]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values = [
        "lambda.amazonaws.com",
        "scheduler.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
        "monitoring.rds.amazonaws.com",
        "rds.amazonaws.com",
      ]
    }
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.p}:iam::${local.a}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["rds.amazonaws.com", "ops.apigateway.amazonaws.com"]
    }
  }

  # kms:CreateKey has no resource ARN (AWS requires "*"); the request must carry this
  # environment's tag (the provider's default_tags), and later calls need the tag on the key.
  statement {
    sid       = "CreateTaggedKeys"
    actions   = ["kms:CreateKey"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [var.environment]
    }
  }

  statement {
    sid = "UseAndManageEnvironmentKeys"
    actions = [
      "kms:PutKeyPolicy",
      "kms:EnableKeyRotation",
      "kms:UpdateKeyDescription",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = [local.arn.kms_keys]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }
  }

  statement {
    sid       = "KeyAliases"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = [local.arn.kms_alias, local.arn.kms_keys]
  }

  statement {
    sid = "OwnSecrets"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecret",
      "secretsmanager:RestoreSecret",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
    ]
    resources = [local.arn.secrets]
  }

  # RDS creates and rotates the master user secret (rds!cluster-<id>) with the caller's rights.
  statement {
    sid = "RdsManagedSecret"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:DeleteSecret",
      "secretsmanager:DescribeSecret",
      "secretsmanager:RotateSecret",
      "secretsmanager:TagResource",
      "secretsmanager:UpdateSecret",
    ]
    resources = [local.arn.rds_secret]
  }
}

# ---------------------------------------------------------------------------------------------
# Write 2: network, database, buckets
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "write_platform" {
  # VPC resources have random ids: the scope is this account and region.
  statement {
    sid = "Network"
    actions = [
      "ec2:CreateVpc",
      "ec2:DeleteVpc",
      "ec2:ModifyVpcAttribute",
      "ec2:CreateSubnet",
      "ec2:DeleteSubnet",
      "ec2:ModifySubnetAttribute",
      "ec2:CreateRouteTable",
      "ec2:DeleteRouteTable",
      "ec2:AssociateRouteTable",
      "ec2:DisassociateRouteTable",
      "ec2:CreateRoute",
      "ec2:DeleteRoute",
      "ec2:ReplaceRoute",
      "ec2:CreateInternetGateway",
      "ec2:DeleteInternetGateway",
      "ec2:AttachInternetGateway",
      "ec2:DetachInternetGateway",
      "ec2:AllocateAddress",
      "ec2:ReleaseAddress",
      "ec2:DisassociateAddress",
      "ec2:CreateNatGateway",
      "ec2:DeleteNatGateway",
      "ec2:CreateVpcEndpoint",
      "ec2:ModifyVpcEndpoint",
      "ec2:DeleteVpcEndpoints",
      "ec2:CreateSecurityGroup",
      "ec2:DeleteSecurityGroup",
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
      "ec2:CreateFlowLogs",
      "ec2:DeleteFlowLogs",
      "ec2:CreateTags",
      "ec2:DeleteTags",
    ]
    resources = ["arn:${local.p}:ec2:${local.r}:${local.a}:*"]
  }

  statement {
    sid = "Database"
    actions = [
      "rds:CreateDBCluster",
      "rds:ModifyDBCluster",
      "rds:DeleteDBCluster",
      "rds:CreateDBClusterSnapshot", # the final snapshot on delete
      "rds:CreateDBInstance",
      "rds:ModifyDBInstance",
      "rds:DeleteDBInstance",
      "rds:RebootDBInstance",
      "rds:CreateDBSubnetGroup",
      "rds:ModifyDBSubnetGroup",
      "rds:DeleteDBSubnetGroup",
      "rds:CreateDBClusterParameterGroup",
      "rds:ModifyDBClusterParameterGroup",
      "rds:DeleteDBClusterParameterGroup",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
    ]
    resources = local.arn.rds
  }

  statement {
    sid = "DatabaseProxy"
    actions = [
      "rds:CreateDBProxy",
      "rds:ModifyDBProxy",
      "rds:DeleteDBProxy",
      "rds:ModifyDBProxyTargetGroup",
      "rds:RegisterDBProxyTargets",
      "rds:DeregisterDBProxyTargets",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
    ]
    resources = concat(local.arn.rds_proxy, [local.arn.rds[0]])
  }

  # Bucket configuration of the environment's buckets (files, access logs); never object data.
  statement {
    sid = "Buckets"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:PutBucket*",
      "s3:DeleteBucketPolicy",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
    ]
    resources = [local.arn.buckets]
  }

  dynamic "statement" {
    for_each = var.allow_bucket_emptying ? [1] : []

    content {
      sid       = "EmptyBucketsOnDestroy"
      actions   = ["s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion"]
      resources = [local.arn.buckets, "${local.arn.buckets}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.artifact_bucket_name == null ? [] : [var.artifact_bucket_name]

    content {
      sid       = "LambdaArtifacts"
      actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
      resources = ["arn:${local.p}:s3:::${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.artifact_kms_key_arn == null ? [] : [var.artifact_kms_key_arn]

    content {
      sid       = "LambdaArtifactsKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Write 3: function, API, identity, mail, jobs, monitoring, logs, DNS
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "write_app" {
  statement {
    sid = "Function"
    actions = [
      "lambda:CreateFunction",
      "lambda:DeleteFunction",
      "lambda:UpdateFunctionCode",
      "lambda:UpdateFunctionConfiguration",
      "lambda:PutFunctionConcurrency",
      "lambda:DeleteFunctionConcurrency",
      "lambda:PutFunctionEventInvokeConfig",
      "lambda:UpdateFunctionEventInvokeConfig",
      "lambda:DeleteFunctionEventInvokeConfig",
      "lambda:AddPermission",
      "lambda:RemovePermission",
      "lambda:PublishVersion",
      "lambda:TagResource",
      "lambda:UntagResource",
    ]
    resources = [local.arn.function]
  }

  statement {
    sid       = "HttpApi"
    actions   = ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"]
    resources = local.arn.apis
  }

  statement {
    sid = "Certificates"
    actions = [
      "acm:RequestCertificate",
      "acm:DeleteCertificate",
      "acm:AddTagsToCertificate",
      "acm:RemoveTagsFromCertificate",
    ]
    resources = [local.arn.certificates]
  }

  # cognito-idp:CreateUserPool has no resource ARN (AWS requires "*").
  statement {
    sid       = "UserPoolCreate"
    actions   = ["cognito-idp:CreateUserPool"]
    resources = ["*"]
  }

  statement {
    sid = "UserPools"
    actions = [
      "cognito-idp:UpdateUserPool",
      "cognito-idp:DeleteUserPool",
      "cognito-idp:SetUserPoolMfaConfig",
      "cognito-idp:CreateUserPoolClient",
      "cognito-idp:UpdateUserPoolClient",
      "cognito-idp:DeleteUserPoolClient",
      "cognito-idp:CreateUserPoolDomain",
      "cognito-idp:UpdateUserPoolDomain",
      "cognito-idp:DeleteUserPoolDomain",
      "cognito-idp:CreateGroup",
      "cognito-idp:UpdateGroup",
      "cognito-idp:DeleteGroup",
      "cognito-idp:TagResource",
      "cognito-idp:UntagResource",
    ]
    resources = [local.arn.user_pools]
  }

  statement {
    sid = "Mail"
    actions = [
      "ses:CreateConfigurationSet",
      "ses:DeleteConfigurationSet",
      "ses:PutConfigurationSet*",
      "ses:CreateConfigurationSetEventDestination",
      "ses:UpdateConfigurationSetEventDestination",
      "ses:DeleteConfigurationSetEventDestination",
      "ses:CreateEmailIdentity",
      "ses:DeleteEmailIdentity",
      "ses:PutEmailIdentity*",
      "ses:TagResource",
      "ses:UntagResource",
    ]
    resources = local.arn.ses
  }

  statement {
    sid = "Jobs"
    actions = [
      "scheduler:CreateScheduleGroup",
      "scheduler:DeleteScheduleGroup",
      "scheduler:CreateSchedule",
      "scheduler:UpdateSchedule",
      "scheduler:DeleteSchedule",
      "scheduler:TagResource",
      "scheduler:UntagResource",
      "sqs:CreateQueue",
      "sqs:DeleteQueue",
      "sqs:SetQueueAttributes",
      "sqs:TagQueue",
      "sqs:UntagQueue",
    ]
    resources = local.arn.jobs
  }

  statement {
    sid = "Monitoring"
    actions = [
      "sns:CreateTopic",
      "sns:DeleteTopic",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:Unsubscribe",
      "sns:SetSubscriptionAttributes",
      "sns:TagResource",
      "sns:UntagResource",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DeleteAlarms",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = local.arn.monitoring
  }

  statement {
    sid = "LogGroups"
    actions = [
      "logs:CreateLogGroup",
      "logs:DeleteLogGroup",
      "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey",
      "logs:DisassociateKmsKey",
      "logs:TagResource",
      "logs:UntagResource",
    ]
    resources = local.arn.log_groups
  }

  # Access logging on an HTTP API stage goes through CloudWatch Logs "log delivery", whose
  # actions have no resource ARN (AWS requires "*").
  statement {
    sid = "ApiAccessLogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(local.arn.zones) > 0 ? [1] : []

    content {
      sid       = "DnsRecords"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = local.arn.zones
    }
  }
}
