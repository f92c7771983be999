"""Built-in plugin: the digits sample world (real handwritten digits, near- and far-OOD sets) and its zoo CNN."""
