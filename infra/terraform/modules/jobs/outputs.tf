output "schedule_names" {
  description = "Names of the schedules by job."
  value       = { for k, s in aws_scheduler_schedule.job : k => s.name }
}

output "dead_letter_queue_name" {
  description = "Name of the schedules' dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "dead_letter_queue_arn" {
  description = "ARN of the schedules' dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "scheduler_role_arn" {
  description = "ARN of the role the schedules assume."
  value       = aws_iam_role.scheduler.arn
}
