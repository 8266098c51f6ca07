"""Orchestration services: pools, queues, workers, deployments and runs over the store.

Each function takes the `Store` first and keeps its change in one transaction.
"""
