"""Headless rendering: matplotlib figures per result kind (no Qt), PNG/CSV exporters and the HTML report.

The GUI embeds the same figure builders, so a result looks the same in a report and in a window.
"""
