"""Diagnostics and logs requested from chargers (1.6 GetDiagnostics, 2.0.1 GetLog) and their uploads."""
