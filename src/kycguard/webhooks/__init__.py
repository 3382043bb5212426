"""Integrator webhooks: per-tenant endpoints receiving signed ``verification.completed``,
``session.completed`` and ``review.decided`` events through the durable outbox."""
