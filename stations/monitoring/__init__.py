"""Live network dashboard, connection history and uptime."""
