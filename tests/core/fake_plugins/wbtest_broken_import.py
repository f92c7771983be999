"""A plugin whose import raises."""

raise ImportError("this plugin is broken on purpose")
