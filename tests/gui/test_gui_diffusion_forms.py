"""The diffusion part-2 forms guide: their groups show as boxes, and the sampling fields of the LongAlign encoding
task hide when it does not sample."""

from __future__ import annotations

from workbench.core.plugins import get_host
from workbench.gui.device_probe import MachineDevices
from workbench.gui.param_form import ParamForm


def _form(qtbot, task: str) -> ParamForm:
    form = ParamForm(MachineDevices())
    qtbot.addWidget(form)
    form.set_task(get_host().registry.tasks[task])
    form.resize(460, 900)
    form.show()
    qtbot.waitExposed(form)
    return form


def test_alignit_and_reward_forms_have_their_groups(qtbot):
    assert {"Splice", "Sampling", "Views"} <= set(_form(qtbot, "diffusion.alignit").groups)
    reward = _form(qtbot, "diffusion.longalign-reward")
    assert {"Prompts", "Training", "Advanced"} <= set(reward.groups)
    assert not reward.groups["Advanced"].isChecked()


def test_longalign_encoding_hides_sampling_fields_when_it_does_not_sample(qtbot):
    form = _form(qtbot, "diffusion.longalign-encode")
    assert form.editors["seeds"].isVisible()
    form.editors["sample"].check.setChecked(False)
    assert not form.editors["seeds"].isVisible() and "seeds" not in form.request().params
