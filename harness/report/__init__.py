"""Report: a `Judgement` in; summary.json/md, JUnit, plots, progress lines and the Locust UI's Leaks tab out."""
