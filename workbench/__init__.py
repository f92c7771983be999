"""Alignment Workbench: a plugin host for studying vision-model alignment and OOD behaviour."""

__version__ = "0.1.0"
