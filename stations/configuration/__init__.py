"""Configuration profiles per charger model, drift and health checks."""
