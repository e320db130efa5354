output "url" {
  description = "Public HTTPS address of the service."
  value       = sandbox_service.main.url
}

output "internal_hostname" {
  description = "Hostname other services in the same environment use to call this one."
  value       = sandbox_service.main.internal_hostname
}

output "service_id" {
  description = "The cloud's id of the service (find it in the sandbox console)."
  value       = sandbox_service.main.id
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
  value       = { min = sandbox_service.main.min_replicas, max = sandbox_service.main.max_replicas }
}

output "port" {
  description = "The port the container listens on."
  value       = sandbox_service.main.port
}

output "environment" {
  description = "The environment variables the app sees from its connections (the password is in secret_environment)."
  value       = local.environment
}

output "secret_environment" {
  description = "The app's secret environment variables: the database password and a URL with it."
  value       = local.secret_environment
  sensitive   = true
}
