"""Observe: the server's figures and process after each wave; hands on the server half of a `CycleSample`."""
