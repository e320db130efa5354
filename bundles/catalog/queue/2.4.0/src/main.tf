# A message queue with an optional dead-letter queue in the sandbox cloud (sandbox_queue), the
# stand-in for a cloud provider here. With a real cloud the same module would use aws_sqs_queue;
# nothing else about the bundle would change.

terraform {
  required_providers {
    sandbox = {
      source  = "slipway.local/slipway/sandbox"
      version = "~> 1.0"
    }
  }
}

locals {
  fifo        = var.type == "fifo"
  dead_letter = var.dead_letter_max_receives > 0

  # Cloud names are at most 63 characters and FIFO queues end in ".fifo" (their dead-letter
  # queue must be FIFO too). 54 = 63 - len("-dlq") - len(".fifo").
  base                   = substr(var.slipway.name_prefix, 0, 54)
  suffix                 = local.fifo ? ".fifo" : ""
  queue_name             = "${local.base}${local.suffix}"
  dead_letter_queue_name = "${local.base}-dlq${local.suffix}"

  production = var.slipway.tier == "production"
}

# A queue cannot be renamed or switched between standard and FIFO (the provider plans a
# replacement: a new, empty queue); retention and the redrive policy change in place.
resource "sandbox_queue" "dead_letter" {
  count = local.dead_letter ? 1 : 0

  name = local.dead_letter_queue_name
  fifo = local.fifo
  # Always the maximum: in a standard queue a dead-lettered message keeps its original
  # enqueue time, so it needs longer here than in the main queue to leave time for someone
  # to look at it.
  retention_days = 14
  tags           = var.slipway.tags
}

resource "sandbox_queue" "main" {
  name           = local.queue_name
  fifo           = local.fifo
  retention_days = var.retention_days
  # How long a received message stays hidden before it is retried (the runbook's 30 s).
  visibility_timeout_seconds = 30
  dead_letter_queue_id       = local.dead_letter ? sandbox_queue.dead_letter[0].id : null
  max_receive_count          = local.dead_letter ? var.dead_letter_max_receives : null
  tags                       = var.slipway.tags
}

# Soft warnings: they show in the plan and the run log, but never block a deploy.
check "production_has_dead_letter_queue" {
  assert {
    condition     = !local.production || local.dead_letter
    error_message = "Production queue without a dead-letter queue: a message that always fails is retried until it expires, wasting consumer time and then disappearing without a trace. Set dead_letter_max_receives (5 is a good start)."
  }
}

check "dead_letter_outlives_message" {
  assert {
    # Standard queues only: FIFO queues restart the clock when a message is dead-lettered.
    condition     = local.fifo || !local.dead_letter || var.retention_days <= 10
    error_message = "Messages are kept ${var.retention_days} days and the dead-letter queue keeps them 14 days from when they were first sent, so a message dead-lettered late has under 4 days (less than a long weekend) before it expires there. Keep retention_days at 10 or less."
  }
}
