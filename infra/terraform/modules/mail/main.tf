# SES v2: a domain identity with Easy DKIM (2048-bit), a configuration set that requires TLS to the
# receiving server and tracks reputation, suppression of bounces/complaints, and sending events
# to CloudWatch (or SNS). Tessera sends with TESSERA_SES_CONFIGURATION_SET = this set's name.
#
# New accounts are in the SES sandbox (only verified recipients); request production access for
# the region before going live.

data "aws_region" "current" {}

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = var.name

  delivery_options {
    tls_policy = "REQUIRE"
  }

  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = true
  }

  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"]
  }
}

resource "aws_sesv2_email_identity" "domain" {
  email_identity         = var.domain
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name

  dkim_signing_attributes {
    next_signing_key_length = "RSA_2048_BIT"
  }
}

resource "aws_sesv2_email_identity_mail_from_attributes" "domain" {
  count = var.mail_from_subdomain == null ? 0 : 1

  email_identity         = aws_sesv2_email_identity.domain.email_identity
  mail_from_domain       = "${var.mail_from_subdomain}.${var.domain}"
  behavior_on_mx_failure = "USE_DEFAULT_VALUE"
}

locals {
  dkim_tokens = aws_sesv2_email_identity.domain.dkim_signing_attributes[0].tokens

  dns_records = concat(
    [for t in local.dkim_tokens : {
      name  = "${t}._domainkey.${var.domain}"
      type  = "CNAME"
      value = "${t}.dkim.amazonses.com"
    }],
    var.mail_from_subdomain == null ? [] : [
      {
        name  = "${var.mail_from_subdomain}.${var.domain}"
        type  = "MX"
        value = "10 feedback-smtp.${data.aws_region.current.name}.amazonses.com"
      },
      {
        name  = "${var.mail_from_subdomain}.${var.domain}"
        type  = "TXT"
        value = "v=spf1 include:amazonses.com ~all"
      },
    ],
  )
}

resource "aws_route53_record" "dkim" {
  count = var.route53_zone_id == null ? 0 : 3 # Easy DKIM always issues three tokens

  zone_id = var.route53_zone_id
  name    = "${local.dkim_tokens[count.index]}._domainkey.${var.domain}"
  type    = "CNAME"
  ttl     = 600
  records = ["${local.dkim_tokens[count.index]}.dkim.amazonses.com"]
}

resource "aws_route53_record" "mail_from_mx" {
  count = var.route53_zone_id != null && var.mail_from_subdomain != null ? 1 : 0

  zone_id = var.route53_zone_id
  name    = "${var.mail_from_subdomain}.${var.domain}"
  type    = "MX"
  ttl     = 600
  records = ["10 feedback-smtp.${data.aws_region.current.name}.amazonses.com"]
}

resource "aws_route53_record" "mail_from_spf" {
  count = var.route53_zone_id != null && var.mail_from_subdomain != null ? 1 : 0

  zone_id = var.route53_zone_id
  name    = "${var.mail_from_subdomain}.${var.domain}"
  type    = "TXT"
  ttl     = 600
  records = ["v=spf1 include:amazonses.com ~all"]
}

resource "aws_sesv2_configuration_set_event_destination" "this" {
  count = var.event_destination == "none" ? 0 : 1

  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = var.event_destination

  event_destination {
    enabled = true
    matching_event_types = [
      "SEND",
      "REJECT",
      "BOUNCE",
      "COMPLAINT",
      "DELIVERY",
      "DELIVERY_DELAY",
      "RENDERING_FAILURE",
    ]

    dynamic "cloud_watch_destination" {
      for_each = var.event_destination == "cloudwatch" ? [1] : []

      content {
        # One dimension: the configuration set SES tags every message with.
        dimension_configuration {
          dimension_name          = "ses:configuration-set"
          dimension_value_source  = "MESSAGE_TAG"
          default_dimension_value = var.name
        }
      }
    }

    dynamic "sns_destination" {
      for_each = var.event_destination == "sns" ? [1] : []

      content {
        topic_arn = var.sns_topic_arn
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.event_destination != "sns" || var.sns_topic_arn != null
      error_message = "event_destination = sns needs sns_topic_arn."
    }
  }
}
