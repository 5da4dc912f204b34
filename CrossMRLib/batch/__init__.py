"""Cohorts: a manifest of studies run one `crossmr segment` each, resumable and shardable."""
