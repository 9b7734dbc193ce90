"""Issue 5: the AWS notebook's whole job against `make run`'s asset graph, on the same archive, in one run.

For each size, a synthetic ml-25m-shaped zip (cached in benchmarks/out/) is served on loopback
HTTP and both sides publish to one embedded S3 under fresh prefixes. Prints wall time, the
graph/notebook ratio, peak memory and throughput, then how the cost grows with size; writes
the numbers as JSON. Wall time never fails the run: only a failed or wrong run does.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import http.server
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from process_tree import Measurement, timed_run  # a sibling: this folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
BASELINE = ROOT / "benchmarks" / "notebook_baseline.py"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
VARIANT = "ml-25m"
DEFAULT_SIZES = (1_000_000, 5_000_000, 25_000_095)  # 25,000,095: the real ml-25m's count
MIB = 1024 * 1024


def python() -> str:
    """The project's venv interpreter for every child, whatever runs this script."""
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


# --- the archives ---------------------------------------------------------------------------

def archive_for(ratings: int, seed: int) -> tuple[Path, dict]:
    """The synthetic release of `ratings` ratings, generated once per size and seed."""
    folder = OUT / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{VARIANT}-{ratings}-seed{seed}.zip"
    facts_path = path.with_suffix(".json")
    if path.exists() and facts_path.exists():
        return path, json.loads(facts_path.read_text())
    print(f"Generating {path.relative_to(ROOT)} ({ratings:,} ratings, seed {seed}) ...", flush=True)
    began = time.monotonic()
    done = subprocess.run(
        [python(), "-m", "personalize_assets.lib.synthetic", "--ratings", str(ratings), "--seed", str(seed),
         "--variant", VARIANT, "-o", str(path)],
        cwd=ROOT, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"The synthetic generator failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    digest = hashlib.md5()  # noqa: S324 - what GroupLens publishes beside each zip
    with open(path, "rb") as archive:
        while chunk := archive.read(8 * MIB):
            digest.update(chunk)
    facts.update(md5=digest.hexdigest(), zip_bytes=path.stat().st_size, seed=seed)
    facts_path.write_text(json.dumps(facts, indent=1))
    print(f"  done in {time.monotonic() - began:.0f}s: {facts['zip_bytes'] / MIB:,.0f} MiB", flush=True)
    return path, facts


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request; the kernel copies the bytes (sendfile)."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def copyfile(self, source, outputfile):
        self.connection.sendfile(source)


@contextlib.contextmanager
def loopback_server(root: Path):
    """Serve `root` on 127.0.0.1 from a thread; yield the base URL."""
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def publish_for_serving(root: Path, archive: Path, facts: dict) -> str:
    """A folder laid out like GroupLens's: <variant>.zip and <variant>.zip.md5; its name."""
    name = archive.stem
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{VARIANT}.zip"
    link.unlink(missing_ok=True)
    link.symlink_to(archive)
    (folder / f"{VARIANT}.zip.md5").write_text(f"{facts['md5']}  {VARIANT}.zip\n")
    return name


def count_rows(client, bucket: str, key: str) -> int:
    """Data rows of a CSV object (lines minus the header), read as a stream."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    newlines, last = 0, b"\n"
    for chunk in body.iter_chunks(8 * MIB):
        newlines += chunk.count(b"\n")
        last = chunk[-1:]
    lines = newlines + (last != b"\n")
    return lines - 1


# --- the two sides --------------------------------------------------------------------------

def run_notebook(url: str, s3, prefix: str, label: str, timeout: float) -> Measurement:
    work = Path(tempfile.mkdtemp(prefix="notebook-", dir=OUT / "tmp"))
    try:
        command = [python(), str(BASELINE), "--url", url, "--workdir", str(work),
                   "--bucket", s3.bucket, "--prefix", prefix]
        result = timed_run("notebook", command, {**os.environ, **s3.env()},
                           OUT / "logs" / f"{label}-notebook.log", timeout, ROOT)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # outside the timing: the notebook never cleans up
    if result.exit_code == 0:  # the baseline's last JSON line: its phase timings
        lines = [line for line in Path(result.log).read_text(errors="replace").splitlines() if line.startswith("{")]
        with contextlib.suppress(ValueError, IndexError, KeyError):
            result.phases = json.loads(lines[-1])["phases"]
    return result


def run_graph(base_url: str, s3, prefix: str, label: str, timeout: float) -> Measurement:
    home = Path(tempfile.mkdtemp(prefix="dagster-home-", dir=OUT / "tmp"))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, **s3.env(), "MOVIELENS_BASE_URL": base_url, "MOVIELENS_VARIANT": VARIANT,
           "PERSONALIZE_PREFIX": prefix, "DAGSTER_HOME": str(home)}
    try:
        command = [python(), "-m", "personalize_assets.cli", "run"]
        result = timed_run("graph", command, env, OUT / "logs" / f"{label}-graph.log", timeout, ROOT)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return result


def verify(result: Measurement, s3, prefix: str, expected: int) -> None:
    """The published interactions.csv must hold exactly one row per rating."""
    if result.exit_code != 0:
        return
    try:
        result.rows_published = count_rows(s3.client(), s3.bucket, f"{prefix}/interactions.csv")
    except Exception as error:  # noqa: BLE001 - reported, not raised: the other runs still count
        result.error = f"{result.side}: cannot read s3://{s3.bucket}/{prefix}/interactions.csv: {error}"
        return
    if result.rows_published != expected:
        result.error = (f"{result.side}: s3://{s3.bucket}/{prefix}/interactions.csv has "
                        f"{result.rows_published:,} rows, the archive {expected:,} ratings")
        return
    result.ok = True
    result.rows_per_s = expected / result.wall_s


# --- reporting ------------------------------------------------------------------------------

def _ratio(graph: float, notebook: float) -> str:
    return f"{graph / notebook:.2f}" if notebook else "-"


def print_size_table(size: dict) -> None:
    notebook, graph = size["notebook"], size["graph"]
    print(f"\n== {size['ratings']:,} ratings, {size['movies']:,} movies "
          f"({size['zip_bytes'] / MIB:,.0f} MiB zip, {VARIANT} layout) ==")
    print(f"{'':<28}{'notebook':>12}{'graph':>12}{'graph/notebook':>16}")
    rows = [
        ("wall s", "wall_s", "{:.1f}"),
        ("CPU s (whole tree)", "cpu_s", "{:.1f}"),
        ("peak RSS, max process MiB", "peak_rss_process_mib", "{:,.0f}"),
        ("peak RSS, tree sum MiB", "peak_rss_tree_mib", "{:,.0f}"),
        ("rows/s", "rows_per_s", "{:,.0f}"),
    ]
    for title, key, shape in rows:
        a, b = notebook[key], graph[key]
        print(f"{title:<28}{shape.format(a):>12}{shape.format(b):>12}{_ratio(b, a):>16}")
    for side in (notebook, graph):
        if side["error"]:
            print(f"  FAILED {side['error']}")
    if size.get("graph_code_changed_during_run"):
        print("  note: the graph's code changed while it ran (others edit it); see graph_code in the JSON")
    if notebook["phases"]:
        print("  notebook phases s: " + ", ".join(f"{k} {v:.1f}" for k, v in notebook["phases"].items()))


def print_growth(sizes: list[dict]) -> dict:
    """Seconds per million rows at each size, the marginal cost between sizes, and a linear fit."""
    print("\n== cost growth: seconds per million rows ==")
    print(f"{'ratings':>12}{'notebook s/M':>14}{'graph s/M':>11}{'notebook marginal':>19}{'graph marginal':>16}")
    growth: dict = {"per_size": [], "fit": {}}
    previous = None
    for size in sizes:
        n, millions = size["ratings"], size["ratings"] / 1e6
        nb, gr = size["notebook"]["wall_s"], size["graph"]["wall_s"]
        row = {"ratings": n, "notebook_s_per_m": nb / millions, "graph_s_per_m": gr / millions}
        marginal = ["", ""]
        if previous:
            delta = (n - previous["ratings"]) / 1e6
            row["notebook_marginal_s_per_m"] = (nb - previous["notebook"]["wall_s"]) / delta
            row["graph_marginal_s_per_m"] = (gr - previous["graph"]["wall_s"]) / delta
            marginal = [f"{row['notebook_marginal_s_per_m']:.2f}", f"{row['graph_marginal_s_per_m']:.2f}"]
        growth["per_size"].append(row)
        print(f"{n:>12,}{row['notebook_s_per_m']:>14.2f}{row['graph_s_per_m']:>11.2f}"
              f"{marginal[0]:>19}{marginal[1]:>16}")
        previous = size
    if len(sizes) >= 2:
        print("least-squares fit  wall s = fixed + per_million * M:")
        for side in ("notebook", "graph"):
            xs = [s["ratings"] / 1e6 for s in sizes]
            ys = [s[side]["wall_s"] for s in sizes]
            mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
                     / sum((x - mean_x) ** 2 for x in xs))
            fixed = mean_y - slope * mean_x
            growth["fit"][side] = {"fixed_s": fixed, "s_per_million": slope}
            print(f"  {side:<9} fixed {fixed:6.1f} s   per million rows {slope:6.2f} s")
    return growth


def graph_code() -> dict:
    """What the graph's code was at this moment: others edit it while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "personalize_assets").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"git_head": head.stdout.strip(), "sha256": digest.hexdigest()[:16]}


def environment() -> dict:
    def version(name: str) -> str | None:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
        return None

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
        "packages": {name: version(name) for name in ("pandas", "pyarrow", "boto3", "dagster", "dagster-aws")},
        "git_head": git("rev-parse", "HEAD"),
        # Others edit the graph while this runs: record what the graph code looked like.
        "graph_code_uncommitted": git("status", "--porcelain", "--", "personalize_assets").splitlines(),
    }


# --- main -----------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[int]:
    """'1000000,5000000,25000095' (also 1M, 5M, 1_000_000)."""
    sizes = []
    for part in text.split(","):
        part = part.strip().replace("_", "").upper()
        scale = {"K": 1_000, "M": 1_000_000}.get(part[-1:], 1)
        try:
            sizes.append(int(float(part.rstrip("KM")) * scale))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a size: {part!r} (e.g. 1000000 or 1M)") from None
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("sizes must be at least 1000 ratings")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                        help="ratings per archive, comma-separated (default 1000000,5000000,25000095)")
    parser.add_argument("--quick", action="store_true", help="only 1,000,000 ratings")
    parser.add_argument("--seed", type=int, default=0, help="the synthetic generator's seed")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    sizes = [1_000_000] if args.quick else args.sizes

    from personalize_assets.lib.local_s3 import start_local_s3, stop_local_s3

    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / "tmp").mkdir(parents=True, exist_ok=True)
    archives = [archive_for(ratings, args.seed) for ratings in sizes]  # before any timing
    serve_root = OUT / "serve"
    results: dict = {"started": stamp, "variant": VARIANT, "seed": args.seed, "environment": environment(),
                     "sizes": []}
    s3_dir = Path(tempfile.mkdtemp(prefix=f"s3-{stamp}-", dir=OUT / "tmp"))
    print(f"Starting the embedded S3 in {s3_dir.relative_to(ROOT)} ...", flush=True)
    s3 = start_local_s3(s3_dir)
    failed = False
    try:
        with loopback_server(serve_root) as server_url:
            for archive, facts in archives:
                folder = publish_for_serving(serve_root, archive, facts)
                base_url = f"{server_url}{folder}/"
                ratings = facts["ratings"]
                label = f"{stamp}-{ratings}"
                size = {"ratings": ratings, "movies": facts["movies"], "users": facts["users"],
                        "zip_bytes": facts["zip_bytes"], "archive": str(archive)}
                print(f"\n{ratings:,} ratings: notebook ...", end="", flush=True)
                notebook_prefix = f"bench-{stamp}/{ratings}/notebook"
                notebook = run_notebook(f"{base_url}{VARIANT}.zip", s3, notebook_prefix, label, args.timeout)
                verify(notebook, s3, notebook_prefix, ratings)
                print(f" {notebook.wall_s:.1f}s; graph ...", end="", flush=True)
                graph_prefix = f"bench-{stamp}/{ratings}/graph"
                code_before = graph_code()
                graph = run_graph(base_url, s3, graph_prefix, label, args.timeout)
                size["graph_code"] = code_before
                if graph_code() != code_before:
                    size["graph_code_changed_during_run"] = True
                    print(" (the graph's code changed during this run)", end="")
                verify(graph, s3, graph_prefix, ratings)
                print(f" {graph.wall_s:.1f}s", flush=True)
                size["notebook"], size["graph"] = asdict(notebook), asdict(graph)
                size["ratio_graph_over_notebook"] = graph.wall_s / notebook.wall_s if notebook.wall_s else None
                failed |= not (notebook.ok and graph.ok)
                results["sizes"].append(size)
                print_size_table(size)
    finally:
        stop_local_s3(s3)
        shutil.rmtree(s3_dir, ignore_errors=True)
    results["growth"] = print_growth(results["sizes"])
    path = OUT / f"results-{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"\nResults: {path.relative_to(ROOT)}")
    if failed:
        print("At least one run FAILED (see above); timings of failed runs are not comparable.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
