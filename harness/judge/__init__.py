"""Judge: `CycleSample`s in, a `Judgement` out. Pure statistics: no I/O, no matplotlib, no Locust."""
