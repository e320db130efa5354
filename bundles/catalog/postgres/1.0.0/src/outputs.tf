output "host" {
  description = "Hostname your application connects to."
  value       = local.host
}

output "port" {
  description = "TCP port of the database."
  value       = local.port
}

output "database" {
  description = "Name of the database inside the server."
  value       = var.database_name
}

output "username" {
  description = "User your application logs in as."
  value       = local.username
}

output "instance_class" {
  description = "Instance class derived from the chosen size."
  value       = local.instance_class
}

output "storage_type" {
  description = "Disk type derived from the storage size: gp3 below 1000 GiB, io2 from 1000 GiB."
  value       = local.storage_type
}

# No password in here on purpose: this output is shown in the portal and logs.
output "connection_string" {
  description = "Connection URL without the password; add it from the `password` output."
  value       = "postgresql://${local.username}@${local.host}:${local.port}/${var.database_name}"
}

output "password" {
  description = "Password of the application user."
  value       = terraform_data.password.output
  sensitive   = true
}
