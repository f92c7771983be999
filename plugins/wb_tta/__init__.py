"""Built-in plugin wb_tta."""
