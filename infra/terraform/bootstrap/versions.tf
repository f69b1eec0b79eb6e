terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Local state on purpose: this configuration creates the bucket every other state lives in.
  # Keep terraform.tfstate somewhere safe (it holds no secrets), or move it into the new bucket
  # afterwards: add backend "s3" { key = "tessera/bootstrap/terraform.tfstate" ... } and run
  # terraform init -migrate-state.
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "tessera"
      Environment = "shared"
      ManagedBy   = "terraform"
    }
  }
}
