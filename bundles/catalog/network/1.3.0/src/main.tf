# A private network (VPC-style) in the sandbox cloud (sandbox_network), the stand-in for a
# cloud provider here. With a real cloud the same module would use aws_vpc and its subnets.

terraform {
  required_providers {
    sandbox = {
      source  = "slipway.local/slipway/sandbox"
      version = "~> 1.0"
    }
  }
}

locals {
  name       = lower(replace(substr(var.slipway.name_prefix, 0, 63), "_", "-"))
  production = var.slipway.tier == "production"
  # The zones a subnet is cut for (the sandbox cloud has no zones of its own to list).
  zones = ["a", "b", "c"]
}

# The range cannot change in place: a new one is a new network (the provider plans a replacement).
resource "sandbox_network" "main" {
  name          = local.name
  cidr_block    = var.cidr_block
  dns_hostnames = var.dns_hostnames
  tags          = var.slipway.tags
}

check "production_has_its_own_range" {
  assert {
    condition     = !local.production || var.cidr_block != "10.0.0.0/16"
    error_message = "A production network on the default range 10.0.0.0/16 clashes with every prototype that kept the default, so the two can never be connected. Ask platform ops for a range of its own."
  }
}
