"""The host's core: plugin contract, tasks, results, runs and backends. Imports no Qt and no method."""
