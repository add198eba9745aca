"""Command line: ``videollm-run CONFIG`` and ``videollm {run,plugins,list,evaluate}``.

Every command sets up the plugin manager first (``-p no:NAME`` blocks a plugin,
``--strict-plugins`` or ``VIDEOLLM_STRICT_PLUGINS=1`` makes a broken plugin fatal,
``VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points) and accepts ``--quiet`` (no
progress bars: it sets ``VIDEOLLM_QUIET=1`` while the command runs). A run ends with one
line naming where its outputs went (work dir, predictions, plots, checkpoint). A :class:`UserError`
(bad config, unknown name, missing file, blocked or broken plugin in strict mode)
prints its message and exits with status 2, without a traceback unless ``--debug``.
torch, transformers and peft load only when a command needs them.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
import warnings
from typing import Any, Callable, Sequence

from ..engine.logs import QUIET_ENV  # torch-free
from ..errors import EXIT_USER_ERROR, ConfigError, UserError

EXIT_INTERRUPTED = 130


# -- shared options -------------------------------------------------------------
def _plugin_spec(text: str) -> str:
    if not text.startswith("no:") or not text[3:]:
        raise argparse.ArgumentTypeError(f"expected no:NAME to block plugin NAME, got {text!r}")
    return text[3:]


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """``--debug``, ``--quiet``, ``--strict-plugins``, ``-p no:NAME``; accepted before and after a subcommand."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("plugins, errors and output")
    group.add_argument("--debug", action="store_true", default=default if suppress else False,
                       help="show tracebacks and debug logs")
    group.add_argument("--quiet", action="store_true", default=default if suppress else False,
                       help="no progress bars (also VIDEOLLM_QUIET=1; they are off anyway when stderr is not a terminal)")
    group.add_argument("--strict-plugins", action="store_true", default=default if suppress else False,
                       help="a plugin that fails to load is an error (also VIDEOLLM_STRICT_PLUGINS=1)")
    group.add_argument("-p", dest="blocked_after" if suppress else "blocked", metavar="no:NAME", action="append",
                       type=_plugin_spec, default=default if suppress else [], help="do not load plugin NAME (repeatable)")


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the YAML config")
    parser.add_argument("--work-dir", help="where checkpoints, logs and predictions go (default: the config's work_dir)")
    parser.add_argument("--cfg-options", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config values: a.b=1 c.d=[1,2] e.0=3")
    parser.add_argument("--resume", nargs="?", const="auto", metavar="auto|PATH",
                        help="resume training from the latest checkpoint of the work dir (auto) or from PATH")
    parser.add_argument("--overwrite", action="store_true",
                        help="train anew in a work dir that holds an earlier run: delete its checkpoints, predictions, "
                             "plots and metrics log first (other files stay)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--eval-only", action="store_true", help="score the val split with the best checkpoint of the work dir and exit")
    mode.add_argument("--predict", action="store_true", help="write test-split predictions in the official formats")
    mode.add_argument("--dry-run", action="store_true",
                      help="validate, open every split's data (first item), build the pipeline on the meta device "
                           "and print parameters per component")
    parser.add_argument("--no-data", action="store_true",
                        help="with --dry-run: do not open the data (a config whose data is on another machine)")
    parser.add_argument("--json", action="store_true", help="machine-readable output (with --dry-run or --eval-only)")
    parser.add_argument("--checkpoint", metavar="best|last|PATH",
                        help="with --eval-only/--predict: best (default), last, a step_* folder or a `videollm export` folder")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="with --eval-only/--predict: use the freshly built weights when there is no checkpoint")
    parser.set_defaults(func=cmd_run, read_config_first=True)


def build_run_parser() -> argparse.ArgumentParser:
    """The parser of ``videollm-run``."""
    parser = argparse.ArgumentParser(prog="videollm-run", description="Train, evaluate or predict from a VideoLLM YAML config.")
    _add_run_arguments(parser)
    _add_common(parser, suppress=False)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``videollm`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="videollm", description="VideoLLM: plugins, components, evaluation and runs.")
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="same as videollm-run")
    _add_run_arguments(p)
    _add_common(p, suppress=True)

    p = sub.add_parser("plugins", help="every plugin: distribution, version, status, what it registered")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)
    _add_common(p, suppress=True)

    p = sub.add_parser("list", help="registered components (ROLE), or one component's parameters (ROLE NAME)")
    p.add_argument("role", nargs="?", help="encoders, translators, llms, tuners, heads, datasets, metrics or features")
    p.add_argument("name", nargs="?", help="a registered name or PLUGIN:NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    _add_common(p, suppress=True)

    p = sub.add_parser("evaluate", help="score official-format predictions with the metric registered as TASK")
    p.add_argument("task", help="the task's metric name (see `videollm list metrics`)")
    p.add_argument("--ground-truth", required=True, metavar="GT", help="ground-truth file in the benchmark's format")
    p.add_argument("--predictions", required=True, metavar="PRED", help="predictions file in the benchmark's format")
    p.add_argument("--tious", metavar="T1,T2,...", help="tIoU thresholds for localisation metrics, e.g. 0.3,0.5,0.7,0.9")
    p.add_argument("--option", "-o", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="another constructor argument of the metric (repeatable)")
    p.add_argument("--json", action="store_true", help="print the scores as one flat JSON object")
    p.set_defaults(func=cmd_evaluate)
    _add_common(p, suppress=True)

    p = sub.add_parser("new-plugin", help="write a third-party plugin package skeleton that installs and passes its tests")
    p.add_argument("name", help="distribution name, e.g. videollm-gated")
    p.add_argument("--dest", default=".", help="folder to create the package in (default: the current one)")
    p.add_argument("--force", action="store_true", help="overwrite an existing package folder")
    p.set_defaults(func=cmd_new_plugin)
    _add_common(p, suppress=True)

    from .data import add_data_commands

    add_data_commands(sub, _add_common)

    from .models import add_model_commands

    add_model_commands(sub, _add_common)

    from .study import add_study_commands

    add_study_commands(sub, _add_common)

    from .schema import add_schema_command

    add_schema_command(sub, _add_common)

    from .demo import add_demo_command

    add_demo_command(sub, _add_common)
    return parser


# -- commands -------------------------------------------------------------------
def _emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text(data))


def cmd_plugins(args: argparse.Namespace) -> int:
    from .listing import format_plugins, plugins_report
    from ..plugins import get_plugin_manager

    _emit(plugins_report(get_plugin_manager()), args.json, format_plugins)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from . import listing
    from ..plugins import REGISTRIES

    if args.name:
        _emit(listing.component_detail(REGISTRIES, args.role, args.name), args.json, listing.format_detail)
    else:
        _emit(listing.components(REGISTRIES, args.role), args.json, listing.format_components)
    return 0


def _parse_tious(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or not all(0.0 < v <= 1.0 for v in values):
        raise ConfigError(f"expected comma-separated tIoU thresholds in (0, 1], got {text!r}", where="--tious", hint="e.g. --tious 0.3,0.5,0.7,0.9")
    return values


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config import parse_override
    from ..errors import DataError
    from ..plugins import REGISTRIES
    from ..signature import accepts_var_kwargs, constructor_parameters

    registry = REGISTRIES.metrics
    cls = registry.lookup(args.task, where="videollm evaluate TASK")
    params = constructor_parameters(cls)
    options: dict[str, Any] = {}
    for text in args.options:
        parts, value = parse_override(text)
        options[".".join(parts)] = value
    if args.tious is not None:
        options["tious"] = _parse_tious(args.tious)
    for key in options:
        if key not in params and not accepts_var_kwargs(cls):
            where = "--tious" if key == "tious" else f"--option {key}"
            raise ConfigError(f"the {args.task} metric ({cls.__name__}) takes no option '{key}'", where=where,
                              hint=f"its options: {', '.join(params) or '(none)'}")
    for label, path in (("ground truth", args.ground_truth), ("predictions", args.predictions)):
        # a file, a folder (MS-TCN result files) or comma-separated files (ActivityNet's val_1,val_2)
        missing = [p for p in str(path).split(",") if p and not Path(p).exists()]
        if missing or not str(path).strip(","):
            raise DataError(f"{label} file not found", where=missing[0] if missing else repr(path),
                            hint=f"pass existing {label} file(s) in the {args.task} format")
    metric = registry.build({"type": args.task, **options}, where=f"videollm evaluate {args.task}")
    ground_truth = metric.load_ground_truth(args.ground_truth)
    predictions = metric.load_predictions(args.predictions)
    scores = metric.evaluate(predictions, ground_truth)
    _emit(scores, args.json, _format_scores)
    return 0


def _format_scores(scores: dict[str, Any]) -> str:
    width = max((len(k) for k in scores), default=0)
    return "\n".join(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}" for k, v in scores.items())


def _format_counts(report: dict[str, Any]) -> str:
    rows = [(n, c["total"], c["trainable"]) for n, c in report["components"].items()] + [("total", report["total"], report["trainable"])]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'component':<{width}}  {'parameters':>14}  {'trainable':>14}"]
    lines += [f"{n:<{width}}  {t:>14,}  {tr:>14,}" for n, t, tr in rows]
    return "\n".join(lines)


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from .scaffold import PluginNames, new_plugin

    root = new_plugin(args.name, args.dest, force=args.force)
    names = PluginNames.from_name(args.name)
    print(f"wrote plugin '{names.plugin}' (package {names.dist}, module {names.module}) to {root}")
    print(f"next: cd {root} && pip install -e . && python -m pytest -q && videollm plugins && videollm-run configs/example.yaml")
    return 0


def _inference_args(args: argparse.Namespace) -> dict[str, Any]:
    """``checkpoint``/``allow_untrained`` for ``Runner.evaluate``/``predict``: without a checkpoint it is an error
    unless ``--allow-untrained``."""
    return {"checkpoint": args.checkpoint or "best", "allow_untrained": bool(args.allow_untrained)}


def read_run_config(args: argparse.Namespace) -> Any:
    """Check the flag combination, then read the config (bounded, without plugins or torch)."""
    from ..config import load_config

    if args.json and not (args.dry_run or args.eval_only):
        raise ConfigError("--json goes with --dry-run or --eval-only", where="videollm-run")
    if args.resume and (args.dry_run or args.eval_only or args.predict):
        raise ConfigError("--resume continues training; it does not go with --dry-run, --eval-only or --predict", where="videollm-run",
                          hint="to evaluate a checkpoint, use --eval-only --checkpoint PATH")
    if args.overwrite and (args.resume or args.dry_run or args.eval_only or args.predict):
        raise ConfigError("--overwrite starts a training run over; it does not go with --resume, --dry-run, --eval-only or --predict",
                          where="videollm-run", hint="--resume continues the earlier run; --overwrite deletes it and trains anew")
    if (args.checkpoint or args.allow_untrained) and not (args.eval_only or args.predict):
        raise ConfigError("--checkpoint and --allow-untrained go with --eval-only or --predict", where="videollm-run",
                          hint="to continue training from a checkpoint, use --resume PATH")
    if args.no_data and not args.dry_run:
        raise ConfigError("--no-data goes with --dry-run", where="videollm-run")
    return load_config(args.config, args.cfg_options)


def cmd_run(args: argparse.Namespace) -> int:
    from ..plugins import configure_config
    from ..validation import validate_config

    cfg = getattr(args, "config_read", None)
    if cfg is None:  # called without _execute (e.g. from Python)
        cfg = read_run_config(args)
    configure_config(cfg)
    if args.work_dir:
        cfg["work_dir"] = args.work_dir
    config = validate_config(cfg)  # typed; the runner takes it as it is
    from ..engine.files import check_input, check_output_dir, resolve_work_dir

    check_output_dir(resolve_work_dir(cfg), "work dir", create=not args.dry_run)
    for flag, value in (("--resume", args.resume), ("--checkpoint", args.checkpoint)):
        if value and value not in ("auto", "last", "best"):  # a checkpoint folder named by path
            check_input(value, "folder", f"{flag} path")
    if args.dry_run:
        from .data_check import check_data, format_data_report

        data = [] if args.no_data else check_data(cfg)
        from ..engine.parameters import dry_run

        report = dry_run(cfg)
        _emit({**report, **({"data": data} if data else {})}, args.json, lambda r: "\n".join(filter(None, [format_data_report(data), _format_counts(r)])))
        return 0
    training = not (args.eval_only or args.predict)
    if training and not args.resume:  # before the model is built: a used work dir exits 2 at once
        from ..engine.workdir import check_fresh

        check_fresh(resolve_work_dir(cfg), overwrite=args.overwrite)
    from ..engine.runner import Runner

    runner = Runner(config, work_dir=args.work_dir)
    if args.eval_only:
        _emit(runner.evaluate(**_inference_args(args)), args.json, _format_scores)
    elif args.predict:
        for task, path in runner.predict(**_inference_args(args)).items():
            print(f"{task}: {path}")
    else:
        runner.train(resume=args.resume, overwrite=args.overwrite)
    if runner.accelerator.is_main_process:  # the closing line; with --json, stdout stays the JSON
        print(runner.outputs.line(), file=sys.stderr if args.json else sys.stdout)
    return 0


# -- entry points -----------------------------------------------------------------
def _execute(args: argparse.Namespace) -> int:
    debug = bool(getattr(args, "debug", False))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not debug:  # deprecation notices of transformers/peft internals are not the user's business
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")
    before = os.environ.get(QUIET_ENV)
    if getattr(args, "quiet", False):  # every progress bar reads it (videollm_core.engine.logs.progress_bar)
        os.environ[QUIET_ENV] = "1"
    try:
        if getattr(args, "read_config_first", False):  # bounded and torch-free: a broken or hostile config exits 2 at once
            args.config_read = read_run_config(args)
        from ..plugins import configure_plugins

        blocked = [*(getattr(args, "blocked", None) or ()), *(getattr(args, "blocked_after", None) or ())]
        manager = configure_plugins(blocked=blocked,
                                    strict=True if getattr(args, "strict_plugins", False) else None)
        manager.load()
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader went away (`videollm stream ... | head`): done, like other Unix tools
        _silence_stdout()
        return 0
    except (UserError, OSError) as e:  # an OSError is the file system's answer: no space, permission...
        if debug:
            traceback.print_exc()
        if isinstance(e, OSError):
            from ..paths import path_error

            e = path_error(e)
        print(f"error: {e.render()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:  # in-process callers (tests, notebooks) get their environment back
        if before is None:
            os.environ.pop(QUIET_ENV, None)
        else:
            os.environ[QUIET_ENV] = before


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's final flush of a closed pipe
    prints no second error (Python's documented recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in tests): nothing to flush
        pass


def run_main(argv: Sequence[str] | None = None) -> int:
    """``videollm-run CONFIG [...]`` (console script)."""
    return _execute(build_run_parser().parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """``videollm COMMAND [...]`` (console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USER_ERROR
    return _execute(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
