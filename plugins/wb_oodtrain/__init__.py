"""Built-in plugin wb_oodtrain."""
