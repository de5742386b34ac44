"""Operator commands: `weights`, `image`, `hostile`, `bench`, `doctor`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.cli.options import BACKENDS
from grader.errors import BadInput


def cmd_weights(args: argparse.Namespace) -> int:
    import sandbox.weights as weights
    from sandbox.settings import SandboxSettings

    settings = SandboxSettings()
    if args.action == "standins":
        for line in weights.make_standins(settings):
            print(line)
    elif args.action == "add":
        if args.file is None:
            raise BadInput("`grader weights add` needs a FILE: the checkpoint to add")
        print(weights.add_weights(settings, args.file))
    for entry in weights.list_weights(settings):
        print(entry)
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from sandbox.container.images import build_images

    build_images(gpu=args.gpu, force=args.force)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from sandbox.doctor import diagnose, doctor_text

    report = diagnose()
    print(json.dumps(report.to_json(), indent=2, default=str) if args.json else doctor_text(report))
    return 0 if report.any_backend_works() else 3


def cmd_hostile(args: argparse.Namespace) -> int:
    from grader.ops.hostile import HostileFigures, figures_text, hostile_figures

    results = [hostile_figures(name) for name in args.backend or BACKENDS]
    for figures in results:
        print(json.dumps(figures.to_json()) if args.json else figures_text(figures))
    ran = [f for f in results if isinstance(f, HostileFigures)]
    clean = all(f.contained == f.tried and not f.lost for f in ran)
    return 0 if ran and clean else (3 if not ran else 1)


def cmd_bench(args: argparse.Namespace) -> int:
    from grader.ops.bench import bench_text, run_bench
    from sandbox.settings import REPO_ROOT

    result = run_bench(args.backend or list(BACKENDS), args.reps, args.cold_reps)
    figures = json.dumps(result.to_json(), indent=2)
    output: Path = args.output or REPO_ROOT / ".cache" / "bench.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(figures)
    print(figures if args.json else bench_text(result))
    print(f"figures written to {output}", file=sys.stderr)
    return 0 if any(b.available for b in result.backends.values()) else 3


def add_ops_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("weights", help="the pre-trained weights cache")
    p.add_argument("action", choices=["list", "add", "standins"])
    p.add_argument("file", nargs="?", type=Path)
    p.set_defaults(func=cmd_weights)
    p = sub.add_parser("image", help="build the Docker sandbox images")
    p.add_argument("action", choices=["build"])
    p.add_argument("--gpu", action="store_true", help="also build the CUDA image")
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=cmd_image)
    p = sub.add_parser("hostile", help="run the hostile corpus on each backend and count")
    p.add_argument("--backend", action="append", choices=BACKENDS)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_hostile)
    p = sub.add_parser("bench", help="latency and throughput, cold and warm, per backend")
    p.add_argument("--backend", action="append", choices=BACKENDS)
    p.add_argument("--json", action="store_true")
    p.add_argument("--reps", type=int, default=20, help="timed warm runs per item")
    p.add_argument("--cold-reps", type=int, default=5, help="timed cold runs per item")
    p.add_argument("--output", type=Path, help="default: <home>/.cache/bench.json")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("doctor", help="what works on this host")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)
