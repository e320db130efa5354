# A model of a managed PostgreSQL instance (RDS-style). No cloud provider is available to
# the catalog, so each cloud resource is a `terraform_data` whose `input` is the exact
# configuration a real provider resource would receive.

locals {
  # Developers pick a t-shirt size; the instance class is an ops decision. Burstable t4g
  # is cheap for small loads; memory-optimised r6g keeps the working set in RAM.
  instance_classes = {
    small  = "db.t4g.medium"  # 2 vCPU, 4 GiB
    medium = "db.r6g.large"   # 2 vCPU, 16 GiB
    large  = "db.r6g.xlarge"  # 4 vCPU, 32 GiB
    xlarge = "db.r6g.2xlarge" # 8 vCPU, 64 GiB
  }
  instance_class = local.instance_classes[var.size]

  # gp3 is the cheap default. From 1000 GiB we assume a large, busy database and switch to
  # provisioned-IOPS io2, sized at 12 IOPS per GiB (never below gp3's 12000 IOPS baseline
  # at that size), capped at the io2 instance limit.
  storage_type = var.storage_gb >= 1000 ? "io2" : "gp3"
  iops         = local.storage_type == "io2" ? min(var.storage_gb * 12, 64000) : null

  engine         = "postgres"
  engine_version = "16"
  port           = 5432
  username       = "app"
  host           = "${var.slipway.name_prefix}.postgres.internal"
  production     = var.slipway.tier == "production"
}

# The application user's password. There is no random provider here, so a uuid() (122
# random bits) stands in for it; ignore_changes keeps the first value forever (uuid()
# changes on every plan otherwise). sensitive() marks it in plans and state JSON so
# Slipway's redaction hides it, not only in the output.
resource "terraform_data" "password" {
  input = sensitive(uuid())

  lifecycle {
    ignore_changes = [input]
  }
}

resource "terraform_data" "instance" {
  input = {
    identifier              = var.slipway.name_prefix
    engine                  = local.engine
    engine_version          = local.engine_version
    instance_class          = local.instance_class
    allocated_storage       = var.storage_gb
    storage_type            = local.storage_type
    iops                    = local.iops
    storage_encrypted       = true
    multi_az                = var.high_availability
    backup_retention_period = var.backup_retention_days
    db_name                 = var.database_name
    username                = local.username
    port                    = local.port
    # Production keeps a final snapshot when the database is destroyed; other tiers don't,
    # so prototypes can be torn down quickly.
    skip_final_snapshot = !local.production
    tags                = var.slipway.tags
  }

  # In a real cloud these cannot change in place: a new engine or initial database name
  # means a brand new (empty) instance. Modelled as replacement so the plan shows it and
  # Slipway's policy asks a person before it happens in production. (Size, storage and
  # storage type change in place.)
  triggers_replace = {
    engine  = local.engine
    db_name = var.database_name
  }
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
