"""Alerts: faults, long offline periods, stuck sessions, failed boots and reconnects, with their
evidence and notifications."""
