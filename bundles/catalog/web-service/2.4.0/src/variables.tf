# Each variable mirrors a property of `params` in ../bundle.yaml: same name, type, default
# and constraints, so running the module by hand rejects what the portal's form rejects.

variable "image" {
  description = "Container image to run, pinned to a tag or digest, e.g. ghcr.io/acme/checkout:1.4.2."
  type        = string

  validation {
    # [registry[:port]/]path[:tag][@sha256:digest]; a tag or a digest is required.
    condition     = can(regex("^[a-z0-9]+((-+|[._]|__)[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+((-+|[._]|__)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$", var.image))
    error_message = "image must be a container image reference with a tag or digest, e.g. ghcr.io/acme/checkout:1.4.2 or ghcr.io/acme/checkout@sha256:<64 hex characters>."
  }
}

variable "port" {
  description = "Port the application listens on inside the container (1 to 65535)."
  type        = number
  default     = 8080

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number from 1 to 65535."
  }
}

variable "cpu" {
  description = "vCPU for each copy: 0.25, 0.5, 1, 2 or 4."
  type        = number
  default     = 0.5

  validation {
    condition     = contains([0.25, 0.5, 1, 2, 4], var.cpu)
    error_message = "cpu must be one of: 0.25, 0.5, 1, 2, 4."
  }
}

variable "memory_mb" {
  description = "Memory for each copy in MiB (512 to 16384, a multiple of 256)."
  type        = number
  default     = 1024

  validation {
    # multipleOf 256 also rules out fractions.
    condition     = var.memory_mb >= 512 && var.memory_mb <= 16384 && var.memory_mb % 256 == 0
    error_message = "memory_mb must be from 512 to 16384 MiB, in steps of 256."
  }
}

variable "min_replicas" {
  description = "Copies that always run (1 to 50)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_replicas >= 1 && var.min_replicas <= 50 && floor(var.min_replicas) == var.min_replicas
    error_message = "min_replicas must be a whole number from 1 to 50."
  }
}

variable "max_replicas" {
  description = "Most copies to scale out to under load (1 to 50, at least min_replicas)."
  type        = number
  default     = 2

  validation {
    condition     = var.max_replicas >= 1 && var.max_replicas <= 50 && floor(var.max_replicas) == var.max_replicas
    error_message = "max_replicas must be a whole number from 1 to 50."
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

# --- Connections: each is filled by Slipway with the connected deployment's payload ({specs, data}).

variable "network" {
  description = "The network the service runs in (a network connection)."
  type = object({
    specs = object({ network_id = string, cidr_block = string, dns_domain = optional(string) })
  })
}

variable "database" {
  description = "The PostgreSQL database the app uses (a postgresql connection)."
  type = object({
    specs = object({ host = string, port = number, database = string, version = string })
    data  = object({ username = string, password = string })
  })
  sensitive = true
}

variable "assets" {
  description = "An optional bucket for files (a bucket connection); null when none is connected."
  type = object({
    specs = object({ name = string, url = string })
  })
  default = null
}

variable "jobs" {
  description = "An optional queue for background work (a queue connection); null when none is connected."
  type = object({
    specs = object({ name = string, url = string, fifo = bool })
  })
  default = null
}
