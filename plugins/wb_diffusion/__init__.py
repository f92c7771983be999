"""Diffusion alignment tuning: a diffusers text-to-image base, MaPO and Diffusion-DPO (later LongAlign, AlignIT)."""
