# Each variable mirrors a property of `params` in ../bundle.yaml: same name, type, default
# and constraints, so running the module by hand rejects what the portal's form rejects.

variable "type" {
  description = "standard (high throughput, best-effort order) or fifo (strict order, exactly-once, limited throughput)."
  type        = string
  default     = "standard"

  validation {
    condition     = contains(["standard", "fifo"], var.type)
    error_message = "type must be one of: standard, fifo."
  }
}

variable "retention_days" {
  description = "Days an unread message is kept before it is deleted (1 to 14)."
  type        = number
  default     = 4

  validation {
    # JSON Schema says "integer", so whole numbers only.
    condition     = var.retention_days >= 1 && var.retention_days <= 14 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number of days from 1 to 14."
  }
}

variable "dead_letter_max_receives" {
  description = "Failed attempts before a message moves to the dead-letter queue (0 to 1000; 0 = no dead-letter queue)."
  type        = number
  default     = 5

  validation {
    condition     = var.dead_letter_max_receives >= 0 && var.dead_letter_max_receives <= 1000 && floor(var.dead_letter_max_receives) == var.dead_letter_max_receives
    error_message = "dead_letter_max_receives must be a whole number from 0 to 1000 (0 = no dead-letter queue)."
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
