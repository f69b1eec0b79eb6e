#!/usr/bin/env bash
# Static checks of the Terraform under infra/terraform. Run from anywhere: bash infra/check.sh
#
#   1. terraform fmt -check -recursive      (skipped, with a note, when terraform is not installed)
#   2. envs/stg and envs/prod compose the same way (main.tf and outputs.tf identical)
#   3. terraform validate of every root and module, only when a local filesystem mirror of the AWS
#      provider exists (TF_PROVIDER_MIRROR, default /opt/tf-plugins); otherwise skipped with a note
#      (the provider cannot be downloaded on the development machines; CI validates on GitHub)
#   4. checkov from the virtualenv .venv-checkov in the repository root (created with pip when
#      missing); any failed check fails the script. Skips are inline (#checkov:skip=...).
#
# Non-interactive: fine with CI=true and no stdin.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tf_dir=infra/terraform
checkov_version="${CHECKOV_VERSION:-3.3.30}"
venv="$root/.venv-checkov"
status=0

# 1. formatting -----------------------------------------------------------------------------
if command -v terraform >/dev/null 2>&1; then
  echo "check: terraform fmt -check -recursive $tf_dir"
  # An empty CLI config keeps fmt quiet on machines without ~/.terraformrc.
  if ! TF_CLI_CONFIG_FILE="${TF_CLI_CONFIG_FILE:-/dev/null}" terraform fmt -check -recursive "$tf_dir" </dev/null; then
    echo "check: FAILED: run terraform fmt -recursive $tf_dir" >&2
    status=1
  fi
else
  echo "check: terraform is not installed: fmt check skipped"
fi

# 2. stg and prod stay alike ----------------------------------------------------------------
for f in main.tf outputs.tf; do
  if ! diff -u "$tf_dir/envs/stg/$f" "$tf_dir/envs/prod/$f"; then
    echo "check: FAILED: envs/stg/$f and envs/prod/$f differ (sizes belong in variables.tf / tfvars)" >&2
    status=1
  fi
done
echo "check: envs/stg and envs/prod share main.tf and outputs.tf"

# 3. validate against a local provider mirror, when there is one -----------------------------
mirror="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
if command -v terraform >/dev/null 2>&1 && [ -d "$mirror/registry.terraform.io/hashicorp/aws" ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  cat >"$scratch/cli.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
  # A copy, so no .terraform directories or lock files land in the work tree.
  cp -r "$tf_dir" "$scratch/terraform"
  find "$scratch/terraform" \( -name .terraform -o -name .terraform.lock.hcl -o -name 'terraform.tfstate*' \) -prune -exec rm -rf {} +
  for d in "$scratch"/terraform/bootstrap "$scratch"/terraform/envs/* "$scratch"/terraform/modules/*; do
    name="${d#"$scratch"/terraform/}"
    if TF_CLI_CONFIG_FILE="$scratch/cli.tfrc" terraform -chdir="$d" init -backend=false -input=false -no-color \
      >"$scratch/init.log" 2>&1 </dev/null &&
      TF_CLI_CONFIG_FILE="$scratch/cli.tfrc" terraform -chdir="$d" validate -no-color >"$scratch/validate.log" 2>&1 </dev/null; then
      echo "check: terraform validate $name: ok"
    else
      echo "check: FAILED: terraform validate $name" >&2
      cat "$scratch/init.log" "$scratch/validate.log" 2>/dev/null | grep -v '^$' >&2 || true
      status=1
    fi
  done
else
  echo "check: no local AWS provider mirror ($mirror): terraform validate skipped (it runs in the deploy workflow)"
fi

# 4. checkov --------------------------------------------------------------------------------
if ! "$venv/bin/checkov" --version >/dev/null 2>&1 </dev/null; then
  echo "check: creating $venv with checkov $checkov_version (pip)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "checkov==$checkov_version" </dev/null
fi
echo "check: checkov $("$venv/bin/checkov" --version </dev/null) on $tf_dir"
if ! "$venv/bin/checkov" -d "$tf_dir" --framework terraform --compact --quiet --skip-download </dev/null; then
  echo "check: FAILED: checkov reported failed checks" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "check: all infra checks passed"
fi
exit "$status"
