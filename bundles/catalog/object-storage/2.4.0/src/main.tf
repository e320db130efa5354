# An object storage bucket in the sandbox cloud (sandbox_bucket), the stand-in for a cloud
# provider here. With a real cloud the same module would use aws_s3_bucket and its settings
# resources; nothing else about the bundle would change.

terraform {
  required_providers {
    sandbox = {
      source  = "slipway.local/slipway/sandbox"
      version = "~> 1.0"
    }
  }
}

locals {
  # Bucket names are global across all customers of the cloud, so the name prefix alone
  # could already be taken: add 8 characters of the deployment id and stay within the
  # 63-character limit.
  bucket_name = lower("${substr(var.slipway.name_prefix, 0, 54)}-${substr(replace(var.slipway.deployment_id, "-", ""), 0, 8)}")

  kms           = var.encryption == "kms"
  sse_algorithm = local.kms ? "aws:kms" : "AES256"
  kms_key_alias = local.kms ? "alias/${local.bucket_name}" : ""

  production = var.slipway.tier == "production"
}

# A bucket cannot be renamed (a new name is a new, empty bucket); everything else changes in place.
resource "sandbox_bucket" "main" {
  name                = local.bucket_name
  versioning          = var.versioning
  encryption          = var.encryption
  block_public_access = var.block_public_access
  lifecycle_days      = var.lifecycle_days
  tags                = var.slipway.tags
}

# Soft warnings: they show in the plan and the run log, but never block a deploy.
check "production_bucket_is_private" {
  assert {
    condition     = !local.production || var.block_public_access
    error_message = "Public access is allowed on a production bucket: anyone who guesses a file's URL can read it. Turn block_public_access back on unless this bucket only serves public website assets."
  }
}

check "production_keeps_versions" {
  assert {
    condition     = !local.production || var.versioning
    error_message = "Versioning is off on a production bucket: an overwritten or deleted file cannot be recovered."
  }
}

check "bucket_name_is_valid" {
  assert {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", local.bucket_name))
    error_message = "The derived bucket name \"${local.bucket_name}\" is not a valid bucket name (3-63 lowercase letters, digits, dots and hyphens). Ask platform ops to check the environment's name prefix."
  }
}
