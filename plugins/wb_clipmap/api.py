"""The CLIP heatmaps plugin's public library: readers of image-caption pairs (a folder of images with same-named
``.txt`` captions, CSV, JSONL, COCO / FOIL COCO captions JSON) for other plugins that train or score on captioned
images. Problems with single items are collected in ``PairSet.problems``; a file that cannot be read raises
:class:`PairsError` naming it.
"""

from wb_clipmap.readers import Pair, PairsError, PairSet, read_pairs

__all__ = ["Pair", "PairSet", "PairsError", "read_pairs"]
