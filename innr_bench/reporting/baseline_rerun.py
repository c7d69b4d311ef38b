"""The gate against the baseline's own code on this machine: the commit a baseline was recorded
from is checked out in a git worktree and its suite run here, into a cache of its own, so that
the check pairs every seed in one environment (as performance CI compares a change with its
base on the same runner), instead of judging values made on another CPU or card."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from innr_bench.engine.env import cpu_model, uncommitted
from innr_bench.errors import ConfigError
from innr_bench.reporting.gate import Baseline, BaselineEntry, write_baseline

OUTPUT_SHOWN = 2000  # characters of a failed rerun's output quoted in the error


def environments_differ(baseline: Baseline, current: dict[tuple[str, str, str], Any]) -> bool:
    """Whether any setting's recorded environment differs from the one it has in the results
    (`current`: (data, target, method) -> environment), or is not recorded."""
    return any(entry.environment is None or entry.environment != current[_key(entry)]
               for entry in baseline.entries if _key(entry) in current)


def _key(entry: BaselineEntry) -> tuple[str, str, str]:
    return (entry.data, entry.target, entry.method)


def rerun(baseline: Baseline, baseline_path: Path, *, repo: Path, work: Path | None = None,
          device: str = "cpu", threads: int | None = None) -> Baseline:
    """Run the baseline's suite at the baseline's commit here and return it as a baseline.

    `repo` is the git checkout holding that commit; `work` a folder for the worktree, its cache
    and its results (a temporary one, removed afterwards, when None); `device` and `threads` those
    the results were computed with, so that the rerun pairs with them."""
    commit = str(baseline.provenance.get("git_commit") or "")
    if not commit or uncommitted(commit):
        raise ConfigError(f"{baseline_path}: provenance.git_commit is {commit or 'missing'!r}, so its code "
                          "cannot be checked out; re-record the baseline from committed code "
                          "(`innr-bench baseline RESULTS_DIR -o FILE` after a run of a clean checkout)")
    _git(repo, baseline_path, "rev-parse", "--git-dir",
         fix=f"run the check inside a git clone of innr-bench (not {repo})")
    _git(repo, baseline_path, "cat-file", "-e", f"{commit}^{{commit}}",
         fix=f"commit {commit[:12]} is not in this clone: fetch it (`git fetch --unshallow`) or "
             "re-record the baseline")
    own = work is None
    root = Path(tempfile.mkdtemp(prefix="innr-bench-baseline-")) if work is None else Path(work)
    worktree = root / "worktree"
    try:
        _git(repo, baseline_path, "worktree", "add", "--detach", str(worktree), commit,
             fix="remove a stale worktree with `git worktree prune`")
        suite_file = _suite_file(baseline, worktree, baseline_path)
        # the worktree's package first: PYTHONPATH comes before an editable install
        path = os.pathsep.join(p for p in (str(worktree), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "INNR_BENCH_CACHE": str(root / "cache")}
        command = [sys.executable, "-m", "innr_bench.cli", "run", suite_file, "--out", str(root / "results"),
                   "--device", device, "--no-progress", "--reference", "none",
                   *(["--threads", str(threads)] if threads else [])]
        done = subprocess.run(command, cwd=worktree, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-OUTPUT_SHOWN:]
            raise ConfigError(f"{baseline_path}: the baseline's suite failed at commit {commit[:12]} "
                              f"(exit {done.returncode}); its output ends:\n{output}")
        here = write_baseline(root / "results" / baseline.suite, root / "rerun-baseline.json")
        # computed on this CPU now: an older commit's records do not say which (no `worker.cpu`)
        entries = [dataclasses.replace(e, environment=_on_this_cpu(e.environment)) for e in here.entries]
        return dataclasses.replace(here, entries=entries)
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(worktree)],
                       capture_output=True, check=False)
        if own:
            shutil.rmtree(root, ignore_errors=True)


def _on_this_cpu(environment: dict[str, Any] | None) -> dict[str, Any] | None:
    """A rerun's environment with this CPU filled in where its commit did not record one."""
    if environment is None or environment.get("device") != "cpu" or environment.get("cpu"):
        return environment
    return {**environment, "cpu": cpu_model()}


def _suite_file(baseline: Baseline, worktree: Path, baseline_path: Path) -> str:
    """The suite the baseline ran, inside the worktree: the recorded path where it is a relative
    one there, else suites/<suite name>.yaml."""
    recorded = baseline.provenance.get("suite_file")
    candidates = [str(recorded)] if recorded and not Path(str(recorded)).is_absolute() else []
    candidates.append(f"suites/{baseline.suite}.yaml")
    found = next((c for c in candidates if (worktree / c).is_file()), None)
    if found is None:
        raise ConfigError(f"{baseline_path}: the baseline's commit has none of {', '.join(candidates)}; "
                          "set provenance.suite_file to the suite's path in the repository, or "
                          "re-record the baseline")
    return found


def _git(repo: Path, baseline_path: Path, *args: str, fix: str) -> str:
    """`git -C repo ARGS`'s output, or one clear error naming what to do."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ConfigError(f"{baseline_path}: rerunning the baseline needs git on PATH") from None
    if done.returncode != 0:
        raise ConfigError(f"{baseline_path}: git {' '.join(args[:2])} failed ({done.stderr.strip()}); "
                          f"{fix}")
    return done.stdout.strip()
