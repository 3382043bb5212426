"""Scale-out: shared state across workers and hosts, cluster-wide job leases, the task queue,
idempotency keys, and the bounded executor that keeps model work off the request thread pool."""
