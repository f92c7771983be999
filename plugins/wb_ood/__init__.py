"""Built-in plugin wb_ood."""
