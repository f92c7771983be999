"""wb_clim: CLIM region-text alignment (Wu et al., AAAI 2024) on the host's CLIP service.

Tasks: ``clim.region-score`` (boxes x vocabulary with dense region features), ``clim.evaluate`` (region
classification on annotated shapes scenes, crop baseline, image zero-shot), ``clim.mosaic`` (training mosaics and
pseudo-boxes) and ``clim.tune`` (mosaic region-caption contrastive tuning of the last vision blocks). The dense map
and RoIAlign pooling are host services (``LoadedClip.dense_features`` / ``region_features``).
"""
