# The only line that differs in the composition of stg and prod (main.tf and outputs.tf are
# identical in both; sizes live in variables.tf defaults and terraform.tfvars).
locals {
  environment = "stg"
}
