# Cognito user pool: e-mail is the username, strong passwords, optional TOTP MFA, threat protection
# when the PLUS plan is chosen, and a public app client (no secret) for the SPA / mobile app using
# the authorization code flow. Tessera validates the tokens itself (issuer + client id) and maps the
# groups in `cognito:groups` to its roles.

data "aws_region" "current" {}

locals {
  groups = {
    admin     = { precedence = 1, description = "Tessera administrators" }
    organizer = { precedence = 2, description = "Event organizers" }
    staff     = { precedence = 3, description = "Door and check-in staff" }
  }
}

resource "aws_cognito_user_pool" "this" {
  name                = var.name
  user_pool_tier      = var.user_pool_tier
  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  username_configuration {
    case_sensitive = false
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
    # Password history is a threat-protection feature; leave it unset otherwise.
    password_history_size = var.threat_protection_mode == "OFF" ? null : 5
  }

  mfa_configuration = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  admin_create_user_config {
    allow_admin_create_user_only = !var.allow_self_sign_up
  }

  # Changing the e-mail address keeps the old one until the new one is verified.
  user_attribute_update_settings {
    attributes_require_verification_before_update = ["email"]
  }

  user_pool_add_ons {
    advanced_security_mode = var.threat_protection_mode
  }

  dynamic "email_configuration" {
    for_each = var.ses_email == null ? [] : [var.ses_email]

    content {
      email_sending_account = "DEVELOPER"
      source_arn            = email_configuration.value.source_arn
      from_email_address    = email_configuration.value.from_address
      configuration_set     = email_configuration.value.configuration_set
    }
  }

  verification_message_template {
    default_email_option = "CONFIRM_WITH_CODE"
  }

  lifecycle {
    precondition {
      condition     = var.threat_protection_mode == "OFF" || var.user_pool_tier == "PLUS"
      error_message = "threat_protection_mode AUDIT/ENFORCED requires user_pool_tier = PLUS."
    }
  }
}

resource "aws_cognito_user_group" "this" {
  for_each = local.groups

  user_pool_id = aws_cognito_user_pool.this.id
  name         = each.key
  precedence   = each.value.precedence
  description  = each.value.description
}

# Hosted UI domain: required for the OAuth authorization code flow.
resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_user_pool_client" "app" {
  name         = "${var.name}-app"
  user_pool_id = aws_cognito_user_pool.this.id

  # Public client (browser / mobile): no secret; the code flow is protected with PKCE.
  generate_secret = false

  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = var.callback_urls
  logout_urls                          = var.logout_urls

  # SRP keeps the password off the wire for native sign-in; no plain USER_PASSWORD_AUTH.
  explicit_auth_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.id_token_validity_minutes
  refresh_token_validity = var.refresh_token_validity_days

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}
