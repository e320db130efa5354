# A model of a container service (ECS/Fargate-style): a task definition, a service behind a
# load balancer, and autoscaling. No cloud provider is available to the catalog, so each
# cloud resource is a `terraform_data` whose `input` is the configuration a real provider
# resource would receive.

locals {
  # One word for dashboards, cost reports and estate queries (size_class:large).
  size_class = var.cpu <= 0.5 ? "small" : (var.cpu <= 2 ? "medium" : "large")

  # The platform counts CPU in units of 1/1024 vCPU.
  cpu_units = var.cpu * 1024
  task_size = "${var.cpu} vCPU / ${var.memory_mb} MiB"

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

  url               = "https://${var.slipway.name_prefix}.apps.internal"
  internal_hostname = "${var.slipway.name_prefix}.svc.internal"
  production        = var.slipway.tier == "production"
}

# A new image or size is a new task definition revision that the service rolls out copy by
# copy, with no downtime. Modelled as an in-place update, not a replacement, so ordinary
# deploys are not flagged as destructive (which would need an approval in production).
resource "terraform_data" "task_definition" {
  input = {
    family = var.slipway.name_prefix
    cpu    = local.cpu_units
    memory = var.memory_mb
    container = {
      name           = "app"
      image          = var.image
      container_port = var.port
    }
    tags = var.slipway.tags
  }

  lifecycle {
    precondition {
      condition     = var.memory_mb >= local.memory_range[0] && var.memory_mb <= local.memory_range[1]
      error_message = "With ${var.cpu} vCPU the memory must be from ${local.memory_range[0]} to ${local.memory_range[1]} MiB, not ${var.memory_mb}. Change cpu or memory_mb."
    }
  }
}

resource "terraform_data" "service" {
  input = {
    name              = var.slipway.name_prefix
    task_definition   = terraform_data.task_definition.output.family
    desired_count     = var.min_replicas
    health_check_path = "/"
    target_port       = var.port
    hostname          = local.internal_hostname
    public_url        = local.url
    autoscaling = {
      min_capacity = var.min_replicas
      max_capacity = local.max_replicas
      # Add copies when average CPU stays above this, remove them when well below.
      target_cpu_percent = 60
    }
    tags = var.slipway.tags
  }

  # A service cannot be renamed: a new name is a new service (and a new URL).
  triggers_replace = [var.slipway.name_prefix]
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
