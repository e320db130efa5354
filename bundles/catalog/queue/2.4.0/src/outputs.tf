output "queue_url" {
  description = "Address producers send to and consumers read from."
  value       = sandbox_queue.main.url
}

output "queue_name" {
  description = "Name of the queue (ends in .fifo for FIFO queues)."
  value       = sandbox_queue.main.name
}

output "queue_id" {
  description = "The cloud's id of the queue (find it in the sandbox console)."
  value       = sandbox_queue.main.id
}

output "dead_letter_queue_url" {
  description = "Address of the dead-letter queue; empty when dead-lettering is off."
  value       = local.dead_letter ? sandbox_queue.dead_letter[0].url : ""
}

output "fifo" {
  description = "Whether the queue keeps strict order."
  value       = sandbox_queue.main.fifo
}
