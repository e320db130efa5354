variable "seconds" {
  type    = number
  default = 3
}

variable "upstream" {
  type    = object({ specs = object({ url = string }) })
  default = null
}

variable "slipway" {
  type = object({
    deployment_id = string
    name_prefix   = string
    project       = string
    environment   = string
    tier          = string
    team          = string
    tags          = map(string)
  })
}

# Creating and destroying take `seconds` each, as a cloud resource would.
resource "terraform_data" "endpoint" {
  input = {
    seconds  = var.seconds
    upstream = var.upstream == null ? "" : var.upstream.specs.url
  }

  provisioner "local-exec" {
    command = "sleep ${self.input.seconds}"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sleep ${self.input.seconds}"
  }
}

output "url" {
  value = "https://${var.slipway.name_prefix}.example.test"
}

output "internal_hostname" {
  value = "${var.slipway.name_prefix}.internal"
}
