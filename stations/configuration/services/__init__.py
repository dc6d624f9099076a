"""Configuration services: read (snapshots), compare (drift), apply, and the health checks."""
