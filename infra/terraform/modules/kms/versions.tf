terraform {
  # 1.11: write-only arguments (modules/secrets); 1.10: S3 lock files for the state.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100"
    }
  }
}
