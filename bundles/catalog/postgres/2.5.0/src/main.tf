# A managed PostgreSQL server in the sandbox cloud (sandbox_database), the stand-in for a
# cloud provider here. With a real cloud the same module would use aws_db_instance and its
# friends; nothing else about the bundle would change.

terraform {
  required_providers {
    sandbox = {
      source  = "slipway.local/slipway/sandbox"
      version = "~> 1.0"
    }
  }
}

locals {
  # Developers pick a t-shirt size; the instance class behind it is an ops decision, shown as
  # an output so people can search the estate for it. Burstable t4g is cheap for small loads;
  # memory-optimised r6g keeps the working set in RAM.
  instance_classes = {
    small  = "db.t4g.medium"  # 2 vCPU, 4 GiB
    medium = "db.r6g.large"   # 2 vCPU, 16 GiB
    large  = "db.r6g.xlarge"  # 4 vCPU, 32 GiB
    xlarge = "db.r6g.2xlarge" # 8 vCPU, 64 GiB
  }
  instance_class = local.instance_classes[var.size]
  storage_type   = var.storage_gb >= 1000 ? "io2" : "gp3"

  # Cloud names: lowercase, no underscores, at most 63 characters.
  name       = lower(replace(substr(var.slipway.name_prefix, 0, 63), "_", "-"))
  production = var.slipway.tier == "production"
}

# The server. A new name or database_name is a new, empty server (the provider plans a
# replacement, which Slipway stops for review); size, storage, version, high availability and
# backups change in place. The cloud generates the application user's password (sensitive in
# the provider's schema, so plans, state and logs mask it).
resource "sandbox_database" "main" {
  name                  = local.name
  size                  = var.size
  storage_gb            = var.storage_gb
  engine_version        = var.engine_version
  high_availability     = var.high_availability
  backup_retention_days = var.backup_retention_days
  database_name         = var.database_name
  tags                  = var.slipway.tags
}

# The bundle's alarms (bundle.yaml `alarms:`), passed by Slipway in var.slipway.alarms: one cloud alarm each on
# the server, notifying the deployment's alarm webhook (Alertmanager format). With a real cloud this would be an
# aws_cloudwatch_metric_alarm with an SNS topic subscribed to the same URL.
resource "sandbox_alarm" "bundle" {
  for_each = { for alarm in var.slipway.alarms : alarm.name => alarm if alarm.resource == "sandbox_database.main" }

  name             = substr("${local.name}-${each.key}", 0, 63)
  alarm_name       = each.key
  resource_id      = sandbox_database.main.id
  metric           = each.value.metric
  comparison       = each.value.comparison
  threshold        = each.value.threshold
  duration_seconds = each.value.duration_seconds
  severity         = each.value.severity
  summary          = each.value.summary
  webhook_url      = var.slipway.alarm_webhook_url == "" ? null : sensitive(var.slipway.alarm_webhook_url)
  tags             = var.slipway.tags
}

# Soft warnings: they show in the plan and the run log, but never block a deploy.
check "production_has_high_availability" {
  assert {
    condition     = !local.production || var.high_availability
    error_message = "This database is in a production environment without high availability: a data-centre failure means downtime until it is restored. Turn on high_availability."
  }
}

check "production_backup_window" {
  assert {
    condition     = !local.production || var.backup_retention_days >= 7
    error_message = "Production databases should keep at least 7 days of backups (currently ${var.backup_retention_days})."
  }
}

check "burstable_size_in_production" {
  assert {
    condition     = !local.production || var.size != "small"
    error_message = "The small size uses a burstable instance (db.t4g) that slows down under sustained load. Use medium or larger in production."
  }
}
