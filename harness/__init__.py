"""The leak-detection harness. Nothing under harness/ imports locust except at run time
inside the Locust process (scenarios/); keep it that way: locust monkey-patches gevent."""

__version__ = "0.1.0"
