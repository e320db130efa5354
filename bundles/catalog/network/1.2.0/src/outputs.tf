output "network_id" {
  description = "The cloud's id of the network: what databases and services are placed in."
  value       = sandbox_network.main.id
}

output "cidr_block" {
  description = "The network's private IPv4 range."
  value       = sandbox_network.main.cidr_block
}

output "dns_domain" {
  description = "The private DNS domain of host names in the network (when host names are on)."
  value       = sandbox_network.main.dns_domain
}
