output "url" {
  description = "Public HTTPS address of the service."
  value       = local.url
}

output "internal_hostname" {
  description = "Hostname other services in the same environment use to call this one."
  value       = local.internal_hostname
}

output "size_class" {
  description = "small (up to 0.5 vCPU), medium (1-2 vCPU) or large (4 vCPU) per copy."
  value       = local.size_class
}

output "task_size" {
  description = "CPU and memory of each copy."
  value       = local.task_size
}

output "replicas" {
  description = "The effective autoscaling range: min and max copies."
  value       = { min = var.min_replicas, max = local.max_replicas }
}
