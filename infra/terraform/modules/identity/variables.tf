variable "name" {
  description = "Name prefix, e.g. tessera-stg."
  type        = string
}

variable "domain_prefix" {
  description = "Prefix of the Cognito hosted-UI domain (<prefix>.auth.<region>.amazoncognito.com); must be unique in the region."
  type        = string
}

variable "callback_urls" {
  description = "Allowed OAuth redirect URLs of the SPA/mobile app (authorization code flow with PKCE)."
  type        = list(string)

  validation {
    condition     = length(var.callback_urls) > 0
    error_message = "At least one callback URL is required for the OAuth code flow."
  }
}

variable "logout_urls" {
  description = "Allowed sign-out redirect URLs."
  type        = list(string)
  default     = []
}

variable "user_pool_tier" {
  description = "Cognito feature plan: ESSENTIALS, or PLUS for threat protection (advanced security)."
  type        = string
  default     = "ESSENTIALS"

  validation {
    condition     = contains(["LITE", "ESSENTIALS", "PLUS"], var.user_pool_tier)
    error_message = "user_pool_tier must be LITE, ESSENTIALS or PLUS."
  }
}

variable "threat_protection_mode" {
  description = "Advanced security (threat protection) mode: OFF, AUDIT or ENFORCED. AUDIT/ENFORCED need user_pool_tier = PLUS."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "AUDIT", "ENFORCED"], var.threat_protection_mode)
    error_message = "threat_protection_mode must be OFF, AUDIT or ENFORCED."
  }
}

variable "deletion_protection" {
  description = "Protect the user pool against deletion (prod: true)."
  type        = bool
  default     = true
}

variable "allow_self_sign_up" {
  description = "Let users sign themselves up (false: only administrators create users)."
  type        = bool
  default     = true
}

variable "ses_email" {
  description = "Send Cognito's e-mails (verification codes, invitations) through SES instead of Cognito's 50-a-day default. Needs a verified SES identity out of the sandbox."
  type = object({
    source_arn        = string
    from_address      = string
    configuration_set = string
  })
  default = null
}

variable "access_token_validity_minutes" {
  description = "Lifetime of access tokens in minutes."
  type        = number
  default     = 60
}

variable "id_token_validity_minutes" {
  description = "Lifetime of ID tokens in minutes."
  type        = number
  default     = 60
}

variable "refresh_token_validity_days" {
  description = "Lifetime of refresh tokens in days."
  type        = number
  default     = 30
}
