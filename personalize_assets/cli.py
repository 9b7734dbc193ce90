"""`personalize-assets run|dev|s3`: the Makefile's entry points.

With neither PERSONALIZE_BUCKET nor AWS_ENDPOINT_URL_S3 set, the embedded S3 is started
(or a running one reused) and the standard AWS variables are pointed at it; otherwise
whatever S3 the environment names is used and nothing is started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = PROJECT_ROOT / ".local"
JOB_NAME = "movielens_to_personalize"


def _main_job():
    from personalize_assets.definitions import defs  # absolute: Dagster may load this file by path

    return defs.resolve_job_def(JOB_NAME)


def ensure_dagster_home() -> Path:
    """A project-local DAGSTER_HOME, so `make run` and `make dev` share run history."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(LOCAL_DIR / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return home


@contextlib.contextmanager
def s3_for_this_session(announce=print, while_starting=None):
    """Yield the environment to run with, starting the embedded S3 when none is configured."""
    if os.environ.get("PERSONALIZE_BUCKET") or os.environ.get("AWS_ENDPOINT_URL_S3"):
        announce(f"Using the configured S3: {os.environ.get('AWS_ENDPOINT_URL_S3') or 'AWS'}, "
                 f"bucket {os.environ.get('PERSONALIZE_BUCKET') or '(PERSONALIZE_BUCKET unset)'}")
        yield {}
        return
    from .lib.local_s3 import find_running_local_s3, start_local_s3, stop_local_s3

    data_dir = LOCAL_DIR / "s3"
    server = find_running_local_s3(data_dir)
    started = server is None
    if started:
        announce("Starting the embedded S3 (SeaweedFS weed mini) on 127.0.0.1 ...")
        server = start_local_s3(data_dir, while_starting=while_starting)
    announce(f"Embedded S3 at {server.endpoint_url}, bucket {server.bucket} (data in {data_dir})")
    try:
        yield server.env()
    finally:
        if started:
            stop_local_s3(server)


def _load_definitions() -> None:
    import personalize_assets.definitions  # noqa: F401 - imports dagster, pandas, pyarrow: seconds


def run(variant: str | None) -> int:
    ensure_dagster_home()
    _interrupt_on_sigterm()
    # The embedded S3 starts while the definitions load (both take seconds).
    with s3_for_this_session(while_starting=_load_definitions) as env:
        import dagster as dg

        os.environ.update(env)
        from .defs.jobs import ONE_PROCESS

        run_config = dict(ONE_PROCESS)
        # The terminal shows what happened (downloads, checks, failures); the full event
        # log, DEBUG included, stays in the run's history for `make dev`.
        run_config["loggers"] = {"console": {"config": {"log_level": os.environ.get("DAGSTER_LOG_LEVEL", "INFO")}}}
        if variant:
            run_config["ops"] = {"movielens_zip": {"config": {"variant": variant}}}
        with dg.DagsterInstance.get() as instance:
            started = time.monotonic()
            result = dg.execute_job(dg.reconstructable(_main_job), instance=instance, run_config=run_config)
            status = report(result)
        # Every step ran in this process, so its high-water mark is the run's peak memory.
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Run time {time.monotonic() - started:.1f} s; peak memory of the run {peak_mib:,.0f} MiB.")
        return status


def report(result) -> int:
    """A short summary after the event log: what failed and why, or where the data is."""
    from .lib.failures import failure_text

    failures, uris, checks = [], {}, []
    for event in result.all_events:
        if event.is_step_failure:
            failures.append((event.step_key, failure_text(event.step_failure_data.error)))
        elif event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            uri = materialization.metadata.get("dagster/uri")
            if uri is not None:
                uris[materialization.asset_key.to_user_string()] = uri.value
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            checks.append((evaluation.check_name, evaluation.passed, str(evaluation.severity.value),
                           evaluation.description or ""))
    print("\n" + "=" * 72)
    for name, passed, severity, description in checks:
        if not passed:
            print(f"check {name} did not pass ({severity}): {description}")
    if result.success:
        print(f"Run {result.run_id} succeeded ({sum(c[1] for c in checks)}/{len(checks)} checks passed).")
        for asset in ("interactions_csv", "items_csv", "movielens_zip"):
            if asset in uris:
                print(f"  {asset:<17} {uris[asset]}")
        return 0
    print(f"Run {result.run_id} FAILED.")
    for step, message in failures:
        print(f"  {step}: {message}")
    print("Objects already published in the bucket were left as they were.")
    return 1


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl+C, so the embedded S3 we started is stopped either way."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


def dev() -> int:
    ensure_dagster_home()
    _interrupt_on_sigterm()
    with s3_for_this_session() as env:
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
        child = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **env})
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.terminate()  # dagster dev stops its webserver and daemon on SIGTERM
            try:
                return child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                return child.wait()


def s3_only() -> int:
    _interrupt_on_sigterm()
    with s3_for_this_session() as env:
        for name, value in env.items():
            shown = "(in .local/s3/credentials.json)" if "SECRET" in name else value
            print(f"  {name}={shown}")
        print("Press Ctrl+C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="personalize-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="materialize every asset and its checks, headless")
    run_parser.add_argument("--variant", help="MovieLens release (default: MOVIELENS_VARIANT or ml-latest-small)")
    commands.add_parser("dev", help="the Dagster UI (dagster dev -w workspace.yaml)")
    commands.add_parser("s3", help="only the embedded S3, in the foreground")
    args = parser.parse_args(argv)
    # Arrow's allocator (mimalloc) read this when it starts: return freed pages to the OS at
    # once instead of after a delay that lets a step start on top of the last one's memory
    # (measured on 25M ratings: ~150 MB less between steps, no slower). Runs launched from
    # `make dev` inherit it.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    if args.command == "run":
        return run(args.variant)
    if args.command == "dev":
        return dev()
    return s3_only()


if __name__ == "__main__":
    sys.exit(main())
