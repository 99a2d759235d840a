"""Channels: consumers, routing and on-commit event publishing (the web portal issue)."""
