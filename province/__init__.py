"""The demo province: a deterministic month of waste traffic on the real road network.

Known violations are injected, the month is fed through the real ingest path, and the checker
is graded against the truth.
"""
