# Each variable mirrors a property of `params` in ../bundle.yaml: same name, type, default
# and constraints, so running the module by hand rejects what the portal's form rejects.

variable "cidr_block" {
  description = "Private IPv4 range in CIDR notation: a /16 in 10.0.0.0/8."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(regex("^10\\.([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])\\.0\\.0/16$", var.cidr_block))
    error_message = "cidr_block must be a /16 in 10.0.0.0/8, such as 10.42.0.0/16."
  }
}

variable "dns_hostnames" {
  description = "Give every address a private DNS name."
  type        = bool
  default     = true
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
