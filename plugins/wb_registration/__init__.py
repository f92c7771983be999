"""Built-in plugin wb_registration."""
