"""Locust scenarios: one client behaviour per file. `behaviours` is Locust-free."""
