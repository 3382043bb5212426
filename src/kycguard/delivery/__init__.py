"""Durable delivery shared by alerts and integrator webhooks: an outbox table written in the event's
transaction, claimed by background jobs with a lease, retried with exponential back-off and jitter,
dead-lettered after the retry window, every attempt recorded."""
