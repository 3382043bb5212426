"""Application services: the logic behind the routes and the CLI (routers stay thin)."""
