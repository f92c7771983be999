"""The trained OOD detectors in the zoo load as any zoo classifier does (the host's classifier contract), so
post-hoc detectors and test-time adaptation take them by id."""

import pytest
import torch

from workbench.api import check_classifier, load_zoo_model


@pytest.mark.parametrize("model_id", ["ce-digits", "mixoe-digits", "palm-digits", "ascood-digits"])
def test_zoo_detectors_follow_the_classifier_contract(model_id):
    net = check_classifier(load_zoo_model(model_id), model_id)
    assert net.num_classes == 6
    logits = net.fc(net.forward_features(torch.zeros(2, 1, 32, 32)))
    assert logits.shape == (2, 6)
