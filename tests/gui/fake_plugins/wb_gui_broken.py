"""Test-only plugin whose import fails: the GUI must list it greyed with this error."""

raise ImportError("wb_gui_broken needs a package that is not installed (on purpose)")
