"""Runtime hook of the cpu flavour: torchvision without its C++ operators.

PyPI's torchvision wheels are built against the CUDA torch, so beside the CPU torch their operator library cannot
load. torchvision then computes ``roi_align`` and the other ops the workbench uses in plain PyTorch, but its meta
registrations (for torch.compile, which the workbench does not use) fail on import: they are replaced by an empty
module here, before anything imports torchvision.
"""

import sys
import types

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
