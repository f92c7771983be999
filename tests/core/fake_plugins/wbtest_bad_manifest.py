"""A plugin whose manifest is malformed: its entry is not of the form 'module:function'."""

from pydantic import BaseModel

from workbench.api import Family, TaskSpec, hookimpl


class P(BaseModel):
    pass


@hookimpl
def workbench_register_tasks(registry) -> None:
    registry.add_task(TaskSpec(id="bad.first", title="registered before the error", family=Family.DATA,
                               entry="wbtest_bad_manifest:nothing", params=P))
    registry.add_task(TaskSpec(id="bad.task", title="bad", family=Family.DATA, entry="no colon here", params=P))
