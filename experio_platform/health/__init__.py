"""Health checks and the /health/ endpoints."""
