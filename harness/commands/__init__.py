"""Commands that run several stages: `run`, `ui`, `selftest` (cli.py wraps them in Click)."""
