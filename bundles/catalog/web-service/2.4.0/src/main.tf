# A container service behind a load balancer in the sandbox cloud (sandbox_service), the
# stand-in for a cloud provider here. With a real cloud the same module would use a task
# definition, a service and autoscaling (ECS/Fargate); nothing else about the bundle would change.

terraform {
  required_providers {
    sandbox = {
      source  = "slipway.local/slipway/sandbox"
      version = "~> 1.0"
    }
  }
}

locals {
  # One word for dashboards, cost reports and estate queries (size_class:large).
  size_class = var.cpu <= 0.5 ? "small" : (var.cpu <= 2 ? "medium" : "large")
  task_size  = "${var.cpu} vCPU / ${var.memory_mb} MiB"

  # Memory the platform accepts for each CPU choice (the same table as the allOf in
  # bundle.yaml).
  memory_range = {
    "0.25" = [512, 2048]
    "0.5"  = [1024, 4096]
    "1"    = [2048, 8192]
    "2"    = [4096, 16384]
    "4"    = [8192, 16384]
  }[tostring(var.cpu)]

  # A max below the min is a mistake, not a request to run fewer copies: scale up to the
  # min and warn (check "replica_range" below) rather than fail the deploy.
  max_replicas = max(var.min_replicas, var.max_replicas)

  name       = lower(replace(substr(var.slipway.name_prefix, 0, 63), "_", "-"))
  production = var.slipway.tier == "production"

  # The connections as the environment variables the app sees. Specs are not secret (nonsensitive()
  # takes them out of the sensitive database variable); the password is only in secret_environment.
  db = nonsensitive(var.database.specs)
  environment = merge(
    {
      DATABASE_HOST = local.db.host
      DATABASE_PORT = tostring(local.db.port)
      DATABASE_NAME = local.db.database
      DATABASE_USER = nonsensitive(var.database.data.username)
    },
    var.assets == null ? {} : { ASSETS_BUCKET_NAME = var.assets.specs.name, ASSETS_BUCKET_URL = var.assets.specs.url },
    var.jobs == null ? {} : { JOBS_QUEUE_URL = var.jobs.specs.url, JOBS_QUEUE_NAME = var.jobs.specs.name },
  )
  secret_environment = {
    DATABASE_PASSWORD = var.database.data.password
    DATABASE_URL      = "postgresql://${var.database.data.username}:${var.database.data.password}@${local.db.host}:${local.db.port}/${local.db.database}"
  }
}

# A new image, size, port or scaling range is a rolling update in place, so ordinary deploys
# are not flagged as destructive; a new name is a new service (and a new URL).
resource "sandbox_service" "main" {
  name         = local.name
  image        = var.image
  port         = var.port
  cpu          = var.cpu
  memory_mb    = var.memory_mb
  min_replicas = var.min_replicas
  max_replicas = local.max_replicas
  network_id   = var.network.specs.network_id
  tags         = var.slipway.tags

  lifecycle {
    precondition {
      condition     = var.memory_mb >= local.memory_range[0] && var.memory_mb <= local.memory_range[1]
      error_message = "With ${var.cpu} vCPU the memory must be from ${local.memory_range[0]} to ${local.memory_range[1]} MiB, not ${var.memory_mb}. Change cpu or memory_mb."
    }
  }
}

# Soft warnings: they show in the plan and the run log, but never block a deploy.
check "replica_range" {
  assert {
    condition     = var.max_replicas >= var.min_replicas
    error_message = "max_replicas (${var.max_replicas}) is below min_replicas (${var.min_replicas}); the service will run with ${local.max_replicas} copies and cannot scale out. Raise max_replicas."
  }
}

check "production_redundancy" {
  assert {
    condition     = !local.production || var.min_replicas >= 2
    error_message = "Production service with a single copy: any crash or deploy causes downtime. Set min_replicas to 2 or more."
  }
}

check "pinned_image" {
  assert {
    condition     = !can(regex(":latest$", var.image))
    error_message = "The image uses the :latest tag, which changes under you: a restart can silently run different code. Pin a version tag or a digest."
  }
}
