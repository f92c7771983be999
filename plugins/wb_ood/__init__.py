"""Built-in plugin: post-hoc OOD baselines (MSP, max-logit, Energy, ODIN, Mahalanobis, KNN) and OpenOOD metrics."""
