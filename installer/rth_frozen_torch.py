"""Runtime hook of every flavour: torch.compile runs the function eagerly in the packaged app.

torch.compile (Inductor) builds C++ at first call, with a compiler and the headers of Python and torch, which the
packaged app does not carry and a lab workstation may not have. Libraries that compile on their own (torchvision's
plain-PyTorch ``roi_align`` in the cpu flavour) would fail there; eager is what they fall back to, and the results
are the same. A user who has a compiler and wants compilation sets ``TORCH_COMPILE_DISABLE=0``.
"""

import os

os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")
