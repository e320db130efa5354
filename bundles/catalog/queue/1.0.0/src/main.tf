# A model of an SQS-style queue with an optional dead-letter queue. No cloud provider is
# available to the catalog, so each cloud resource is a `terraform_data` whose `input` is
# the configuration a real provider resource would receive.

locals {
  fifo        = var.type == "fifo"
  dead_letter = var.dead_letter_max_receives > 0

  # Queue names are at most 80 characters and FIFO queues must end in ".fifo" (their
  # dead-letter queue must be FIFO too). 71 = 80 - len("-dlq") - len(".fifo").
  base                   = substr(var.slipway.name_prefix, 0, 71)
  suffix                 = local.fifo ? ".fifo" : ""
  queue_name             = "${local.base}${local.suffix}"
  dead_letter_queue_name = "${local.base}-dlq${local.suffix}"

  queue_url             = "https://queues.internal/${local.queue_name}"
  dead_letter_queue_url = local.dead_letter ? "https://queues.internal/${local.dead_letter_queue_name}" : ""

  production = var.slipway.tier == "production"
}

resource "terraform_data" "dead_letter" {
  count = local.dead_letter ? 1 : 0

  input = {
    name       = local.dead_letter_queue_name
    fifo_queue = local.fifo
    # Always the maximum: in a standard queue a dead-lettered message keeps its original
    # enqueue time, so it needs longer here than in the main queue to leave time for
    # someone to look at it.
    message_retention_seconds = 14 * 86400
    tags                      = var.slipway.tags
  }

  # Same rule as the main queue: FIFO-ness and the name cannot change in place.
  triggers_replace = {
    name = local.dead_letter_queue_name
    fifo = local.fifo
  }
}

resource "terraform_data" "queue" {
  input = {
    name                      = local.queue_name
    fifo_queue                = local.fifo
    message_retention_seconds = var.retention_days * 86400
    # How long a received message stays hidden before it is retried (the runbook's 30 s).
    visibility_timeout_seconds = 30
    # Lets producers send to a FIFO queue without computing their own deduplication id.
    content_based_deduplication = local.fifo
    redrive_policy = local.dead_letter ? {
      dead_letter_target = one(terraform_data.dead_letter[*].output.name)
      max_receive_count  = var.dead_letter_max_receives
    } : null
    tags = var.slipway.tags
  }

  # A queue cannot be switched between standard and FIFO, or renamed: either is a new,
  # empty queue, and messages still in the old one are lost.
  triggers_replace = {
    name = local.queue_name
    fifo = local.fifo
  }
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
