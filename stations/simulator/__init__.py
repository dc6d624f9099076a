"""Simulated OCPP 1.6J chargers that connect to a running CSMS over real WebSockets.

Plain asyncio and `websockets`, no Django: `fleet.fleet_run` is what `manage.py simulate` calls.
"""
