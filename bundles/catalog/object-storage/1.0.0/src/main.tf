# A model of an S3-style bucket. No cloud provider is available to the catalog, so each
# cloud resource is a `terraform_data` whose `input` is the configuration a real provider
# resource would receive.

locals {
  # Bucket names are global across all customers of the cloud, so the name prefix alone
  # could already be taken: add 8 characters of the deployment id and stay within the
  # 63-character limit.
  bucket_name = lower("${substr(var.slipway.name_prefix, 0, 54)}-${substr(replace(var.slipway.deployment_id, "-", ""), 0, 8)}")
  url         = "https://${local.bucket_name}.storage.internal"

  kms           = var.encryption == "kms"
  sse_algorithm = local.kms ? "aws:kms" : "AES256"
  kms_key_alias = local.kms ? "alias/${local.bucket_name}" : ""

  # 0 means "keep forever", i.e. no expiration rule at all.
  expiration_rule = var.lifecycle_days == 0 ? null : {
    expiration_days = var.lifecycle_days
    # Old versions only exist with versioning on; give them the same lifetime.
    noncurrent_version_expiration_days = var.versioning ? var.lifecycle_days : null
  }

  production = var.slipway.tier == "production"
}

# The dedicated key, only with encryption = "kms". Switching back to "standard" schedules it
# for deletion after 30 days: files written while it was in use need it to be read.
resource "terraform_data" "kms_key" {
  count = local.kms ? 1 : 0

  input = {
    alias                   = local.kms_key_alias
    description             = "Encrypts objects in ${local.bucket_name}"
    enable_key_rotation     = true
    deletion_window_in_days = 30
    tags                    = var.slipway.tags
  }
}

resource "terraform_data" "bucket" {
  input = {
    bucket                  = local.bucket_name
    versioning              = var.versioning ? "Enabled" : "Suspended"
    sse_algorithm           = local.sse_algorithm
    kms_key_alias           = local.kms_key_alias
    block_public_acls       = var.block_public_access
    block_public_policy     = var.block_public_access
    ignore_public_acls      = var.block_public_access
    restrict_public_buckets = var.block_public_access
    expiration              = local.expiration_rule
    # Production buckets refuse to be destroyed while they still hold files; other tiers
    # are emptied first so prototypes can be torn down in one go.
    force_destroy = !local.production
    tags          = var.slipway.tags
  }

  # A bucket cannot be renamed: a new name is a new, empty bucket.
  triggers_replace = [local.bucket_name]

  depends_on = [terraform_data.kms_key]
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
