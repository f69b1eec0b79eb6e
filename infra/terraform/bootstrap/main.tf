# The Terraform state bucket for every environment: private, versioned (every state version can be
# restored), SSE-KMS with its own key, TLS-only, access-logged. Apply once, before envs/stg.
# The application secrets are written with write-only arguments and are not in any state, but the
# state still maps the whole deployment: keep access to administrators and the GitHub roles.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

module "state" {
  source = "../modules/storage"

  bucket_name                        = coalesce(var.state_bucket_name, "tessera-tfstate-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}")
  purpose                            = "Tessera Terraform state"
  force_destroy                      = false
  noncurrent_version_expiration_days = var.state_version_retention_days
}
