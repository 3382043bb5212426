"""Web pages served by the service itself: the customer's capture flow, the reviewer console and the
dashboard. Plain HTML, CSS and ES modules from ``static/`` (no build step); every call they make goes
through the public API with the same access rules as any other client."""
