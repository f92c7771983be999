"""Built-in plugin: CLIP misalignment heatmaps (CLIP4DM, F-CLIPScore, relevance maps)."""
