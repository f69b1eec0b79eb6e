variable "name" {
  description = "Name prefix, e.g. tessera-stg. The key gets the alias alias/<name>."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion completes (7-30 days)."
  type        = number
  default     = 30
}
