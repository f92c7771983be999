"""Resources shipped with the workbench: recipes (demo, zoo training, benchmarks) and styles.

Installed as the package ``workbench_resources`` (package data), read through ``workbench.core.assets``.
"""
