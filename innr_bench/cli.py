"""Command line: `innr-bench run | list | report | check | baseline | compare`.

User errors exit with code 2 and one line, no traceback."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any

from tabulate import tabulate

from innr_bench.errors import InnrBenchError

logger = logging.getLogger("innr_bench")

KINDS = ("datasets", "models", "compressors", "attacks", "fields", "layouts", "stages", "presets")
EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="innr-bench",
        description="Benchmark implicit neural network representations (INNR) against "
        "compression baselines and adversarial transfer.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite: train, compress, evaluate, attack, report")
    run.add_argument("suite", type=Path, help="suite YAML file, e.g. suites/mnist.yaml")
    run.add_argument("--out", type=Path, default=Path("runs"),
                     help="results root; the run writes OUT/<suite name>/ (default: runs). Published "
                     "results live in results/: publish a run with --out results")
    run.add_argument("--reference", default="results", metavar="DIR",
                     help="published results root to compare the run with, cell by cell, when it "
                     "holds this suite (default: results; 'none' to skip)")
    run.add_argument("--reuse", choices=("environment", "any"), default="environment",
                     help="reuse finished cells made in this environment only (default: torch "
                     "version, device kind and name, CPU threads and numerics must match), or made "
                     "anywhere (any)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"),
                     help="override the suite's device (auto = CUDA when present)")
    run.add_argument("--force", action="store_true", help="recompute cells that are already done")
    run.add_argument("--allow-dirty", action="store_true",
                     help="publish into results/ from uncommitted code (refused otherwise); the manifest "
                     "and every leaderboard title then say so")
    run.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                     help="import MODULE first: it registers your own targets, compressors or "
                     "attacks (repeatable; a module beside the suite file needs no install)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--front-includes-degraded", action="store_true",
                     help="let degraded settings (a diverged fit, a copy at chance, a cast weight file) "
                     "take pareto and front marks; by default they are marked and kept off them")
    run.add_argument("--threads", type=int, metavar="N",
                     help="torch threads in this process (default: torch's choice). Results depend "
                     "slightly on it: match --cpus-per-cell to compare with a Ray run bit for bit")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="where tasks run: local (this process, default) or ray (needs the `ray` "
                     "extra; a local Ray instance unless --address is given)")
    run.add_argument("--address", help="Ray cluster address, e.g. ray://head:10001 or auto "
                     "(--executor ray only)")
    run.add_argument("--cpus-per-cell", type=_positive, default=1.0,
                     help="CPUs (and torch threads) per Ray task (default 1)")
    run.add_argument("--schedule", choices=("dependencies", "waves"), default="dependencies",
                     help="Ray: start each cell as soon as the target and copies it reads exist "
                     "(dependencies, default), or run targets, copies and attacks as waves with a "
                     "barrier between (waves; for comparison)")
    run.add_argument("--gpus-per-cell", type=_fraction,
                     help="GPU share per Ray task (default 1/4 of a GPU when the cluster has GPUs "
                     "and the device is not cpu, else 0)")

    lister = sub.add_parser("list", help="list registered components with descriptions")
    lister.add_argument("kind", nargs="?", choices=KINDS, help="one kind (default: all)")
    lister.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (registers components from outside innr-bench)")
    lister.add_argument("--format", choices=("text", "md"), default="text",
                        help="md: the component reference page of the docs (tables with options)")

    docs = sub.add_parser("docs", help="assemble the documentation site's source (docs/ plus the "
                          "generated component reference and published-result pages) for mkdocs")
    docs.add_argument("out", type=Path, help="folder to write (its docs/ is replaced), e.g. build/docs-src; "
                      "then: mkdocs build --strict -f OUT/mkdocs.yml")

    report = sub.add_parser("report", help="rewrite leaderboards from stored records, or write a "
                            "static site of published results (--site)")
    report.add_argument("results_dir", type=Path, nargs="*",
                        help="a suite's results dir, e.g. results/mnist; with --site, suites or roots "
                        "holding several (default: results)")
    report.add_argument("--site", type=Path, metavar="DIR",
                        help="write a static site (index of suites, sortable leaderboards, plots, "
                        "provenance) to DIR; open DIR/index.html in a browser, no server needed")
    report.add_argument("--format", nargs="+", choices=("md", "csv", "latex", "tex", "html"),
                        default=["md", "csv", "latex", "html"],
                        help="formats to write (latex = booktabs .tex); plots are always written")
    report.add_argument("--front-includes-degraded", action="store_true",
                        help="let degraded settings take pareto and front marks (default: kept off)")

    gate = sub.add_parser("check", help="regression gate: compare a results dir with a baseline")
    gate.add_argument("results_dir", type=Path, help="a suite's results dir, e.g. results/ci")
    gate.add_argument("--baseline", type=Path, required=True, help="baseline JSON, e.g. baselines/ci.json")
    gate.add_argument("--tolerance", type=_points, default=0.5,
                      help="accuracy drop allowed per setting, in points (e.g. 0.5pt): each seed's "
                      "change in the same environment (paired); across environments the mean same-seed "
                      "change's, plus its 95%% t interval (cross-env); where seeds do not pair, the "
                      "mean's, plus 2 standard errors of the difference (spread)")
    gate.add_argument("--rerun-baseline", choices=("never", "auto", "always"), default="never",
                      help="rerun the baseline's suite at the baseline's git commit on this machine (a git "
                      "worktree, a cache of its own) and check against that, paired per seed in one "
                      "environment: auto = when the baseline's environment differs from the results' "
                      "(what .ci/run uses); never (default) = judge the recorded values")

    record = sub.add_parser("baseline", help="record a results dir as a baseline for `check`")
    record.add_argument("results_dir", type=Path)
    record.add_argument("-o", "--out", type=Path, required=True, help="baseline JSON to write")

    upgrade = sub.add_parser("migrate", help="re-key stored result sets to keys from what ran (once per "
                             "set; records whose settings resolve differently now are kept and listed)")
    upgrade.add_argument("results_dir", type=Path, nargs="+", help="result sets, e.g. results/mnist")

    side = sub.add_parser("compare", help="reproducibility report: result set B against A, cell by "
                          "cell (exit 1 when cells differ beyond the tolerance)")
    side.add_argument("a", type=Path, help="the reference, e.g. results/mnist")
    side.add_argument("b", type=Path, help="the result set to check, e.g. runs/mnist")
    side.add_argument("--tolerance", type=_points, default=0.5,
                      help="accuracy difference allowed per cell in the same environment (paired), per "
                      "setting beyond the same-seed changes' 95%% t interval across environments "
                      "(cross-env) or beyond 2 standard errors where seeds do not pair, in points "
                      "(default 0.5pt)")
    return parser


def _finite(text: str, example: str) -> float:
    """`text` as a finite float, or an argparse error showing `example`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. {example}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, e.g. {example}")
    return value


def _points(text: str) -> float:
    """'0.5', '0.5pt' -> 0.5 (accuracy points, >= 0)."""
    value = _finite(text.removesuffix("pt"), "0.5pt")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of points >= 0")
    return value


def _positive(text: str) -> float:
    """A number > 0 (CPUs per task)."""
    value = _finite(text, "1")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def _fraction(text: str) -> float:
    """A share of one GPU, in [0, 1]."""
    value = _finite(text, "0.25")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 1] (a share of one GPU)")
    return value


def _blank_missing(table: Any) -> Any:
    """Missing values print as empty cells."""
    return table.astype(object).where(table.notna(), "")


def cmd_check(args: argparse.Namespace) -> int:
    from innr_bench.reporting.comparison import MODES
    from innr_bench.reporting.gate import check, load_baseline

    baseline = load_baseline(args.baseline)
    baseline = _rerun_if_asked(baseline, args)
    table = check(args.results_dir, baseline, args.tolerance)
    print(tabulate(_blank_missing(table), headers="keys", tablefmt="github", showindex=False))
    bad = table[table["status"].isin(["REGRESSION", "MISSING"])]
    modes = table["mode"].value_counts().to_dict() if "mode" in table else {}
    how = ", ".join(f"{n} {m}" for m, n in sorted(modes.items()))
    if "cross-env" in modes and args.rerun_baseline == "never":
        print("\nNote: across environments a change that moves each seed differently reads as noise; "
              "`--rerun-baseline auto` checks against the baseline's own commit run here instead.")
    print(f"\n{len(table)} settings checked against {args.baseline} ({how or 'none compared'}; "
          f"tolerance {args.tolerance:g} pt; " + "; ".join(f"{m} = {MODES[m]}" for m in sorted(modes))
          + f"): {len(bad)} regressed or missing")
    return 1 if len(bad) else 0


def _rerun_if_asked(baseline: Any, args: argparse.Namespace) -> Any:
    """The baseline, or (with --rerun-baseline) its suite rerun here at its commit."""
    import time

    import innr_bench
    from innr_bench.reporting.baseline_rerun import environments_differ, rerun
    from innr_bench.reporting.gate import environments

    if args.rerun_baseline == "never":
        return baseline
    current = environments(args.results_dir)
    if args.rerun_baseline == "auto" and not environments_differ(baseline, current):
        print(f"{args.baseline}: recorded in this environment; checking against its values")
        return baseline
    devices = {str(env.get("device")) for env in current.values() if env}
    threads = {env.get("threads") for env in current.values() if env}
    commit = str(baseline.provenance.get("git_commit"))[:12]
    why = "asked to" if args.rerun_baseline == "always" else "recorded in another environment"
    print(f"{args.baseline}: {why}; rerunning suite {baseline.suite!r} at its commit {commit} here to "
          "pair every seed in one environment ...", flush=True)
    start = time.perf_counter()
    rerun_baseline = rerun(baseline, args.baseline, repo=Path(innr_bench.__file__).resolve().parents[1],
                           device=devices.pop() if len(devices) == 1 else "cpu",
                           threads=threads.pop() if len(threads) == 1 else None)
    print(f"reran the baseline's suite at {commit} in {time.perf_counter() - start:.0f} s; "
          "checking against it")
    return rerun_baseline


def cmd_baseline(args: argparse.Namespace) -> int:
    from innr_bench.reporting.gate import write_baseline

    baseline = write_baseline(args.results_dir, args.out)
    print(f"{args.out}: {len(baseline.entries)} settings of suite {baseline.suite!r} "
          f"(git {baseline.provenance.get('git_commit')})")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from innr_bench.reporting.reproduce import compare, render

    comparison = compare(args.a, args.b, args.tolerance)
    print(render(comparison, args.a, args.b))
    return 0 if comparison.ok() else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    from innr_bench.engine.migrate import migrate

    for root in args.results_dir:
        result = migrate(root)
        print(result.summary())
        for key, reason in sorted(result.stale.items()):
            print(f"  kept {key}: {reason}")
    return 0


def cmd_docs(out: Path) -> int:
    from innr_bench.errors import ConfigError
    from innr_bench.reporting.docs_site import write_docs

    repo = Path(__file__).resolve().parents[1]
    if not (repo / "docs").is_dir() or not (repo / "mkdocs.yml").is_file():
        raise ConfigError(f"innr-bench docs needs a checkout: docs/ and mkdocs.yml beside "
                          f"{repo / 'innr_bench'}")
    pages = write_docs(out, repo, KINDS)
    print(f"wrote {out / 'mkdocs.yml'} and {len(pages)} generated pages; "
          f"build with: mkdocs build --strict -f {out / 'mkdocs.yml'}")
    return 0


def cmd_list(kind: str | None, plugins: list[str], fmt: str = "text") -> int:
    from innr_bench.plugins import load_installed_plugins, load_plugins
    from innr_bench.reporting.docs_site import component_rows, components_markdown

    load_installed_plugins()
    load_plugins(plugins, where="--plugin", search=Path.cwd())
    kinds = (kind,) if kind else KINDS
    if fmt == "md":
        print(components_markdown(kinds))
        return 0
    for name in kinds:  # the reference page's rows, less their options (`--format md` has them)
        headers, rows = component_rows(name)
        print(f"{name}:")
        print(tabulate([row[:-1] for row in rows], headers=headers[:-1], tablefmt="plain"))
        print()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from innr_bench.config import load_suite
    from innr_bench.engine.executors import make_executor
    from innr_bench.engine.runner import Runner
    from innr_bench.errors import ConfigError
    from innr_bench.progress import Progress
    from innr_bench.reporting.board import Board
    from innr_bench.reporting.report import render

    suite = load_suite(args.suite, plugins=tuple(args.plugin))
    if args.address and args.executor != "ray":
        raise ConfigError("--address is for --executor ray; add --executor ray or drop --address")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    executor = make_executor(args.executor, address=args.address, cpus_per_cell=args.cpus_per_cell,
                             gpus_per_cell=args.gpus_per_cell, schedule=args.schedule)
    try:
        with Progress(enabled=False if args.no_progress else None) as progress:
            runner = Runner(suite, out_dir=args.out, device=args.device, force=args.force,
                            reuse=args.reuse, progress=progress, executor=executor,
                            allow_dirty=args.allow_dirty)
            progress.print(f"suite {suite.name}: {len(suite.seeds)} seeds on {runner.device}, "
                           f"executor {args.executor}; writing {runner.store.root}")
            summary = runner.run()
    finally:
        executor.close()
    # the one board every renderer and this summary read
    board = Board(summary.out_dir, front_includes_degraded=args.front_includes_degraded)
    written = board.write()
    size_view, transfer_view = board.view("accuracy-vs-size"), board.view("transfer")
    curves = [s for s in (transfer_view.sections if transfer_view else []) if " vs eps " in s[0]]
    print(render([*(size_view.sections if size_view else []), *curves], "md", ""))
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in summary.stage_seconds.items())
    print(f"computed {summary.computed} cells, reused {summary.skipped}, failed "
          f"{len(summary.failed)}; stage times: {stages or 'none'}")
    print(f"leaderboards: {', '.join(str(p) for p in written.values())}")
    _degraded(board)
    _mixed_targets(board.records)
    _reproducibility(args.reference, summary.out_dir)
    for record in summary.failed:
        print(f"FAILED {record['key']}: {record['error']}", file=sys.stderr)
    return 1 if summary.failed else 0


def _degraded(board: Any) -> None:
    """Every degraded cell of the result set, one line each (they are marked on the boards)."""
    from innr_bench.engine.records import finished

    for record in finished(board.records, "compressor"):
        for reason in record.degraded:
            print(f"DEGRADED {record.dataset.label} / {record.target.label} / seed {record.seed} / "
                  f"{record.component.label}: {reason}")


def _mixed_targets(records: list[dict[str, Any]]) -> None:
    """A WARNING per target a board compresses in more than one version (engine/consistency)."""
    from innr_bench.engine.consistency import mixed_targets

    for line in mixed_targets(records):
        print(f"WARNING: mixed targets: {line}")


def _reproducibility(reference_root: str, out_dir: Path) -> None:
    """Compare a finished run with the published results of its suite, if there are any."""
    from innr_bench.engine.store import atomic_write_bytes
    from innr_bench.reporting.reproduce import compare, render

    if reference_root == "none":
        return
    reference = Path(reference_root) / out_dir.name
    if not (reference / "manifest.json").is_file():
        print(f"reproducibility: no published results for this suite in {reference}")
        return
    if reference.resolve() == out_dir.resolve():
        print(f"reproducibility: the run wrote into {reference} itself; compare another run with "
              f"`innr-bench compare {reference} DIR`")
        return
    comparison = compare(reference, out_dir)
    report = render(comparison, reference, out_dir)
    atomic_write_bytes(out_dir / "reproducibility.md", report.encode())
    print(f"reproducibility against {reference}: {comparison.summary()}")
    if not comparison.environment.empty:
        print("environment differences: " + "; ".join(
            f"{row.field}: {row.A} vs {row.B}" for row in comparison.environment.itertuples()
            if row.field != "cells' environment"))
    print(f"report: {out_dir / 'reproducibility.md'}")
    print(f"verdict against {reference}: {comparison.verdict()}")


def cmd_report(args: argparse.Namespace) -> int:
    from innr_bench.errors import ConfigError
    from innr_bench.reporting.board import Board

    if args.site is not None:
        from innr_bench.reporting.site import write_site

        pages = write_site(args.results_dir or [Path("results")], args.site)
        print(f"site: {pages[0]} ({len(pages) - 1} suites)")
        return 0
    if len(args.results_dir) != 1:
        raise ConfigError("report: give one suite's results dir, e.g. results/mnist (or --site DIR)")
    results_dir = args.results_dir[0]
    if not (results_dir / "records").is_dir():
        raise ConfigError(f"{results_dir}: not a results directory (no records/ inside); "
                          "pass the directory `innr-bench run` wrote, e.g. results/mnist")
    formats = tuple(dict.fromkeys("tex" if f == "latex" else f for f in args.format))
    board = Board(results_dir, front_includes_degraded=args.front_includes_degraded)
    written = board.write(formats)
    if not written:
        raise ConfigError(_nothing_to_report(results_dir))
    for path in written.values():
        print(path)
    _mixed_targets(board.records)
    return 0


def _nothing_to_report(results_dir: Path) -> str:
    """Why a results dir has no leaderboard to write: what its latest run lists and holds."""
    from innr_bench.engine.store import ResultStore

    store = ResultStore(results_dir)
    cells = store.manifest().get("cells") or []
    held = {r["key"]: r.get("status") for r in store.records()}
    failed = sum(1 for status in held.values() if status != "ok")
    return (f"{results_dir}: no finished cell to report: its suite's latest run lists {len(cells)} cells, "
            f"{len(held)} of them have records ({failed} failed); rerun the suite "
            f"(`innr-bench run SUITE --out {results_dir.parent}`) to compute them")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("matplotlib", "PIL", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "list":
            return cmd_list(args.kind, args.plugin, args.format)
        if args.command == "docs":
            return cmd_docs(args.out)
        commands = {"run": cmd_run, "report": cmd_report, "check": cmd_check,
                    "baseline": cmd_baseline, "compare": cmd_compare, "migrate": cmd_migrate}
        return commands[args.command](args)
    except InnrBenchError as error:
        if args.debug:
            raise
        print(f"innr-bench: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("innr-bench: interrupted; finished cells are saved, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
