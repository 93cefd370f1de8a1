"""The leak-detection harness: target -> load -> observe -> judge -> report (README "How it
works"). Only load/ imports locust, and only inside the Locust process: its import
monkey-patches gevent into the whole process. `lint-imports` holds this."""

__version__ = "0.1.0"
