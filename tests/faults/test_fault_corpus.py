"""The fault corpus run as tests: every reader's good input reads, and every bad variant of it is refused with a
message naming the file (or each skipped item named), leaving the folder exactly as it was.

The 64 MiB garbage variant of each reader is slow-marked; the rest run by default.
"""

from __future__ import annotations

import pytest
from fault_corpus import READERS, cases, run_case

# damaged inputs make numpy and torch warn (no data, unusual pickle protocol) before the reader refuses them
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
def test_the_good_input_of_every_reader_reads(reader, tmp_path):
    path = tmp_path / reader.filename
    reader.good(path)
    value = reader.read(path)
    assert not getattr(value, "problems", None)


def _params():
    return [pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])
            for case in cases(include_slow=True)]


@pytest.mark.parametrize("case", _params())
def test_every_bad_input_is_refused_naming_the_file_and_nothing_is_touched(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.handled, outcome.message
    assert outcome.intact, "the reader changed the folder it read"
