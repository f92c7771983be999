"""A plugin implementing a hook name that does not exist (a typo)."""

from workbench.api import hookimpl


@hookimpl
def workbench_register_taks(registry) -> None:
    raise AssertionError("never called")
