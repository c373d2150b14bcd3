"""A seeded subset of the fuzz harness (bench/fuzz.py): hostile project files, exported
names, checkpoints, data files, training settings and project paths each end accepted or
cleanly refused — never a crash, a hang, a silently wrong result, lost data or code run."""

from __future__ import annotations

import signal

import pytest

from bench import fuzz
from bench.fuzz_cases import FAMILIES, make_case

# every family, spread over its kinds of case; the harness's heavy cases (seconds of work or
# hundreds of MB) run in bench/fuzz.py only
EVERY = {"project": 20, "inject": 22, "checkpoint": 10, "data": 4, "training": 6, "special": 2}


def _subset() -> list[tuple[str, int]]:
    chosen = []
    for family, (count, _) in FAMILIES.items():
        for index in range(0, count, EVERY[family]):
            if not make_case(family, index).heavy:
                chosen.append((family, index))
    return chosen


CASES = _subset()


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    return fuzz._good_checkpoint(tmp_path_factory.mktemp("fuzz-seed"))


def _hang(signum, frame):
    raise fuzz._Timeout


@pytest.mark.parametrize("family, index", CASES, ids=[f"{f}-{i}" for f, i in CASES])
def test_a_hostile_input_is_accepted_or_cleanly_refused(
    family, index, tmp_path, good_checkpoint, monkeypatch
):
    monkeypatch.setenv("NC_FUZZ_GOOD_CHECKPOINT", str(good_checkpoint))
    case = make_case(family, index)
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, 120)  # a guard against a blocked read, not a timing
    try:
        outcome = fuzz.run_case(case, tmp_path, run_exported=(family, index) == ("inject", 0))
    except fuzz._Timeout:
        pytest.fail(f"{case.label!r} hung")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert outcome["result"] in ("accepted", "clean refusal"), (case.label, outcome)
    if case.expect == "refuse":
        assert outcome["result"] == "clean refusal", (case.label, outcome)
    if outcome["result"] == "clean refusal":  # a message that says what is wrong
        assert len(outcome["detail"].strip()) > 20 and "Traceback" not in outcome["detail"]
