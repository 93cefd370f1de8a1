"""Target: start, readiness and stop of the server under test (and the fake LLM); hands on a `Target`."""
