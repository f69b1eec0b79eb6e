variable "name" {
  description = "Name prefix for every resource, e.g. tessera-stg."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC. Private subnets take the first two /20s (for a /16), public subnets (NAT only) two /24s at the top."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets over (Aurora needs at least two)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "availability_zones" {
  description = "Availability zone names to use, e.g. [\"ap-northeast-1a\", \"ap-northeast-1c\"]; length must equal az_count. Empty = the first az_count zones of the region by name."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) == var.az_count
    error_message = "availability_zones must be empty or list exactly az_count zones."
  }
}

variable "enable_nat_gateway" {
  description = "Create public subnets, an internet gateway and NAT so the Lambda can reach public endpoints that have no PrivateLink path (Cognito's JWKS under a user pool that has a hosted-UI domain). AWS APIs the function uses go through VPC endpoints either way."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, stg) instead of one per AZ (survives an AZ outage, prod)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Service suffixes of the interface VPC endpoints (com.amazonaws.<region>.<suffix>). `email` is the SES v2 API (not email-smtp)."
  type        = list(string)
  default     = ["secretsmanager", "logs", "email", "xray"]
}

variable "create_proxy_security_group" {
  description = "Create the security group and rules for an RDS Proxy between the Lambda and Aurora."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group (its policy must allow CloudWatch Logs)."
  type        = string
}
