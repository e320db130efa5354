# Each variable mirrors a property of `params` in ../bundle.yaml: same name, type, default
# and constraints, so running the module by hand rejects what the portal's form rejects.

variable "versioning" {
  description = "Keep the previous copy when a file is overwritten or deleted."
  type        = bool
  default     = false
}

variable "encryption" {
  description = "Who holds the encryption key: standard (platform-managed) or kms (dedicated key with audit trail)."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "kms"], var.encryption)
    error_message = "encryption must be one of: standard, kms."
  }
}

variable "block_public_access" {
  description = "Refuse any setting that would make files public."
  type        = bool
  default     = true
}

variable "lifecycle_days" {
  description = "Delete files this many days after upload (0 to 3650; 0 keeps them forever)."
  type        = number
  default     = 0

  validation {
    # JSON Schema says "integer", so whole numbers only.
    condition     = var.lifecycle_days >= 0 && var.lifecycle_days <= 3650 && floor(var.lifecycle_days) == var.lifecycle_days
    error_message = "lifecycle_days must be a whole number of days from 0 to 3650 (0 keeps files forever)."
  }
}

variable "slipway" {
  description = "Context passed by Slipway."
  type = object({
    deployment_id = string
    name_prefix   = string
    project       = string
    environment   = string
    tier          = string
    team          = string
    tags          = map(string)
  })
}
