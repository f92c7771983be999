"""Built-in plugin: trainable OOD detectors (MixOE, PALM, ASCOOD), a cross-entropy baseline, side-by-side scoring."""
