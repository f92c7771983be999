"""Built-in plugin wb_shapes."""
