"""Configuration profiles: models."""

from __future__ import annotations
