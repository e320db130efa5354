output "bucket_name" {
  description = "Name of the bucket; use it in SDK calls."
  value       = local.bucket_name
}

output "url" {
  description = "Base URL of the bucket; a file's URL is this followed by /<key>."
  value       = sandbox_bucket.main.url
}

output "bucket_id" {
  description = "The cloud's id of the bucket (find it in the sandbox console)."
  value       = sandbox_bucket.main.id
}

# The effective settings, so they can be searched across the estate and shown on the page.
output "versioning_enabled" {
  description = "Whether previous versions of files are kept."
  value       = sandbox_bucket.main.versioning
}

output "sse_algorithm" {
  description = "Server-side encryption in use: AES256 (platform key) or aws:kms (dedicated key)."
  value       = local.sse_algorithm
}

output "kms_key_alias" {
  description = "Alias of the dedicated encryption key; empty with standard encryption."
  value       = local.kms_key_alias
}

output "public_access_blocked" {
  description = "Whether public access to the bucket is refused."
  value       = sandbox_bucket.main.block_public_access
}

output "expire_after_days" {
  description = "Files are deleted this many days after upload; 0 means kept forever."
  value       = sandbox_bucket.main.lifecycle_days
}
