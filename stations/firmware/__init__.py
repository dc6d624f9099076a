"""Firmware files and update campaigns over many chargers."""
