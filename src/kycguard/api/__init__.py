"""HTTP API: thin routers over the services; one JSON error shape for every failure."""
