"""The Qt desktop shell: the only package that imports Qt (PySide6).

It knows no method by name: the task browser, forms and result views are built from the plugin
registry and the result types. Importing this package is cheap; heavy views load on first use.
"""
