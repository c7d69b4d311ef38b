"""Command line: `innr-bench run | list | report`. User errors exit with code 2, no traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tabulate import tabulate

from innr_bench.errors import InnrBenchError

logger = logging.getLogger("innr_bench")

KINDS = ("datasets", "models", "compressors", "attacks")
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
    run.add_argument("--out", type=Path, default=Path("results"),
                     help="results root; the run writes OUT/<suite name>/ (default: results)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"),
                     help="override the suite's device (auto = CUDA when present)")
    run.add_argument("--force", action="store_true", help="recompute cells that are already done")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    lister = sub.add_parser("list", help="list registered components with descriptions")
    lister.add_argument("kind", nargs="?", choices=KINDS, help="one kind (default: all)")

    report = sub.add_parser("report", help="rewrite leaderboards from stored records")
    report.add_argument("results_dir", type=Path, help="a suite's results dir, e.g. results/mnist")
    report.add_argument("--format", nargs="+", choices=("md", "csv", "latex", "tex", "html"),
                        default=["md", "csv", "latex", "html"],
                        help="formats to write (latex = booktabs .tex); plots are always written")
    return parser


def cmd_list(kind: str | None) -> int:
    from innr_bench import components  # noqa: F401  (registers the built-ins)
    from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, MODELS

    registries = dict(zip(KINDS, (DATASETS, MODELS, COMPRESSORS, ATTACKS)))
    for name in [kind] if kind else KINDS:
        rows = [(e.name, e.description) for e in registries[name].entries()]
        print(f"{name}:")
        print(tabulate(rows, tablefmt="plain"))
        print()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from innr_bench.config import load_suite
    from innr_bench.progress import Progress
    from innr_bench.report import accuracy_vs_size, render, transfer, write_leaderboards
    from innr_bench.runner import Runner

    suite = load_suite(args.suite)
    with Progress(enabled=False if args.no_progress else None) as progress:
        runner = Runner(suite, out_dir=args.out, device=args.device, force=args.force,
                        progress=progress)
        progress.print(f"suite {suite.name}: {len(suite.seeds)} seeds on {runner.device}; "
                       f"writing {runner.store.root}")
        summary = runner.run()
    written = write_leaderboards(summary.out_dir)
    records = runner.store.records()
    size_sections, _ = accuracy_vs_size(records)
    transfer_sections, _ = transfer(records)
    curves = [s for s in transfer_sections if " vs eps " in s[0]]
    print(render(size_sections + curves, "md", ""))
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in summary.stage_seconds.items())
    print(f"computed {summary.computed} cells, reused {summary.skipped}, failed "
          f"{len(summary.failed)}; stage times: {stages or 'none'}")
    print(f"leaderboards: {', '.join(str(p) for p in written.values())}")
    for record in summary.failed:
        print(f"FAILED {record['key']}: {record['error']}", file=sys.stderr)
    return 1 if summary.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from innr_bench.errors import ConfigError
    from innr_bench.report import write_leaderboards

    if not (args.results_dir / "records").is_dir():
        raise ConfigError(f"{args.results_dir}: not a results directory (no records/ inside); "
                          "pass the directory `innr-bench run` wrote, e.g. results/mnist")
    formats = tuple(dict.fromkeys("tex" if f == "latex" else f for f in args.format))
    written = write_leaderboards(args.results_dir, formats)
    for path in written.values():
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("matplotlib", "PIL", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "list":
            return cmd_list(args.kind)
        if args.command == "run":
            return cmd_run(args)
        return cmd_report(args)
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
