"""Helpers the unit tests, the e2e suite and the benchmarks share: free ports and polling, random episodes,
service processes, a throwaway PostgreSQL (testcontainers) and S3 server (moto), and the replay reads that
only tests make. A package of its own so e2e/ and bench/ need not import from tests/."""
