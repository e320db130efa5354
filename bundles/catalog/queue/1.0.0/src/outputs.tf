output "queue_url" {
  description = "Address producers send to and consumers read from."
  value       = local.queue_url
}

output "queue_name" {
  description = "Name of the queue (ends in .fifo for FIFO queues)."
  value       = local.queue_name
}

output "dead_letter_queue_url" {
  description = "Address of the dead-letter queue; empty when dead-lettering is off."
  value       = local.dead_letter_queue_url
}

output "fifo" {
  description = "Whether the queue keeps strict order."
  value       = local.fifo
}
