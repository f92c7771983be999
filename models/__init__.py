"""The model zoo shipped with the workbench: one folder per model with its card.json and weights.

Installed as the package ``workbench_models`` (package data), read through ``workbench.core.assets``.
"""
