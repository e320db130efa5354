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

output "subnets" {
  description = "The network's subnets, one per zone: a /20 of the range each, named after the network and the zone."
  value = [
    for index, zone in local.zones : {
      id         = "${sandbox_network.main.id}-${zone}"
      cidr_block = cidrsubnet(sandbox_network.main.cidr_block, 4, index)
      zone       = zone
    }
  ]
}
