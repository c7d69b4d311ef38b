"""A suite's `description` agrees with its settings wherever it states them: attack input counts
("FGSM (500 inputs)"), byte budgets ("at 0.05 of the bytes"), seed counts ("3 seeds") and the
targets it names ("seed-cnn c=32")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from innr_bench.config import Suite, load_suite

SUITES = sorted((Path(__file__).resolve().parents[1] / "suites").glob("*.yaml"))


def stated_problems(suite: Suite) -> list[str]:
    """What the description states that the settings contradict."""
    text, problems = suite.description, []
    limits = {a.name.lower(): a.limit or suite.eval.attack_limit for a in suite.attacks}
    for attack, count in re.findall(r"\b(FGSM|PGD|AutoAttack|CW)\s*\(([\d,]+) inputs\)", text, re.IGNORECASE):
        found = limits.get(attack.lower(), "absent")
        if found != int(count.replace(",", "")):
            problems.append(f"{attack} ({count} inputs): the suite attacks {found}")
    ratios = {float(c.params["ratio"]) for c in suite.compressors if c.params.get("ratio") is not None}
    for listed in re.findall(r"(\d\.\d+(?:\s*[/-]\s*\d\.\d+)*) of the bytes", text):
        for value in re.split(r"\s*[/-]\s*", listed):
            if float(value) not in ratios and not _within_range(listed, ratios):
                problems.append(f"{value} of the bytes: no compressor has ratio {value}")
    for count in re.findall(r"\b(\d+) seeds\b", text):
        if int(count) != len(suite.seeds):
            problems.append(f"{count} seeds: the suite has {len(suite.seeds)}")
    labels = {t.model.label for t in suite.targets}
    for name, value in re.findall(r"\b(seed-cnn) c=(\d+)", text):
        if f"{name}[c={value}]" not in labels:
            problems.append(f"{name} c={value}: the targets are {sorted(labels)}")
    return problems


def _within_range(listed: str, ratios: set[float]) -> bool:
    """`0.05-0.2 of the bytes` states a range: fine when both ends are budgets of the suite."""
    if "-" not in listed:
        return False
    low, high = (float(v) for v in re.split(r"\s*-\s*", listed)[:2])
    return any(abs(r - low) < 1e-9 for r in ratios) and any(abs(r - high) < 1e-9 for r in ratios)


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_a_description_agrees_with_its_suite(path: Path) -> None:
    if path.stem == "your-own-net" and not (path.parent / "your-net.safetensors").exists():
        pytest.skip("its checkpoint is made by python suites/your_own_net.py (not committed)")
    assert stated_problems(load_suite(path)) == []


def test_the_checker_finds_a_wrong_count(repo_root: Path) -> None:
    import dataclasses

    suite = load_suite(repo_root / "suites" / "mnist.yaml")
    wrong = dataclasses.replace(suite, description="FGSM (1,000 inputs) and PGD (100 inputs), 2 seeds")
    assert stated_problems(wrong) == ["FGSM (1,000 inputs): the suite attacks 500",
                                      "2 seeds: the suite has 3"]
