terraform {
  # 1.10: S3 lock files for the state (use_lockfile); 1.11: write-only arguments (modules/secrets).
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket and region come from -backend-config (the deploy workflow passes
  # bucket=$TF_STATE_BUCKET region=$AWS_REGION; locally use backend.hcl, see backend.hcl.example).
  backend "s3" {
    key          = "tessera/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true # S3 conditional writes; no DynamoDB table
  }
}

provider "aws" {
  # null = the region from AWS_REGION / the profile (the workflow sets AWS_REGION).
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "tessera"
      Environment = local.environment
      ManagedBy   = "terraform"
    }
  }
}
