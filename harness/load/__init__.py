"""Load: waves of client sessions, quiesce and probe, in Locust or a browser; hands on one `CycleSample` per cycle."""
