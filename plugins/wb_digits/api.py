"""The digits plugin's public library: the digits CNN architecture, for plugins that train it as a backbone.

Data and trained weights are reached by id (``load_sample("digits")``, ``load_zoo_model("digits-cnn")``); only
the architecture is imported, by tasks that declare ``requires=("digits",)``.
"""

from wb_digits.model import DigitsCNN

__all__ = ["DigitsCNN"]
