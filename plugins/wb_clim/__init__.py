"""wb_clim: CLIM region-text alignment: dense region features, open-vocabulary region scoring, evaluation."""
