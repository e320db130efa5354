# Each variable mirrors a property of `params` in ../bundle.yaml: same name, type, default
# and the same constraints, so running the module by hand rejects what the portal's form
# rejects.

variable "size" {
  description = "How much processing power and memory the database gets: small, medium, large or xlarge."
  type        = string
  default     = "small"

  validation {
    condition     = contains(["small", "medium", "large", "xlarge"], var.size)
    error_message = "size must be one of: small, medium, large, xlarge."
  }
}

variable "storage_gb" {
  description = "Disk space in GiB (20 to 4096). Can grow later, never shrink."
  type        = number
  default     = 20

  validation {
    # JSON Schema says "integer", so whole numbers only.
    condition     = var.storage_gb >= 20 && var.storage_gb <= 4096 && floor(var.storage_gb) == var.storage_gb
    error_message = "storage_gb must be a whole number of GiB from 20 to 4096."
  }
}

variable "high_availability" {
  description = "Keep a standby in a second data centre that takes over automatically."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automatic backups to keep (1 to 35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number of days from 1 to 35."
  }
}

variable "engine_version" {
  description = "PostgreSQL major version: 15, 16 or 17."
  type        = string
  default     = "16"

  validation {
    condition     = contains(["15", "16", "17"], var.engine_version)
    error_message = "engine_version must be one of: 15, 16, 17."
  }
}

variable "database_name" {
  description = "Name of the database created inside the server."
  type        = string
  default     = "app"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must start with a lowercase letter and contain only lowercase letters, digits and underscores (at most 63 characters)."
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
    # Slipway passes these when the bundle declares alarms (bundle.yaml `alarms:`): where the cloud's alarms
    # notify (a secret: the URL holds the webhook's token) and what each alarm watches.
    alarm_webhook_url = optional(string, "")
    alarms = optional(list(object({
      name             = string
      resource         = string
      metric           = string
      comparison       = string
      threshold        = number
      duration_seconds = number
      severity         = string
      summary          = string
    })), [])
  })
}
