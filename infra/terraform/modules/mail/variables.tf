variable "name" {
  description = "Name prefix; the configuration set is named <name>."
  type        = string
}

variable "domain" {
  description = "Domain verified as the SES identity (the TESSERA_MAIL_FROM address must be in it)."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone of the domain: when set, the DKIM (and MAIL FROM) records are created; otherwise add the records from the dns_records output by hand."
  type        = string
  default     = null
}

variable "mail_from_subdomain" {
  description = "Custom MAIL FROM subdomain (e.g. \"bounce\" -> bounce.<domain>) so SPF aligns for DMARC; null keeps amazonses.com."
  type        = string
  default     = null
}

variable "event_destination" {
  description = "Where SES sending events go: cloudwatch (metrics per configuration set), sns (var.sns_topic_arn) or none."
  type        = string
  default     = "cloudwatch"

  validation {
    condition     = contains(["cloudwatch", "sns", "none"], var.event_destination)
    error_message = "event_destination must be cloudwatch, sns or none."
  }
}

variable "sns_topic_arn" {
  description = "SNS topic for SES events when event_destination = sns."
  type        = string
  default     = null
}
