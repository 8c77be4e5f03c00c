"""Cold start of ``reviewer check`` on the rules path: a fresh process, one draft, wall-clock time.

Target: median <= 0.4 s, with none of the heavy libraries (litellm, FastAPI,
uvicorn, tenacity, httpx, ...) imported. Prints the median and spread of several
runs, a bare ``python -c pass`` for comparison, the slowest imports, and which
heavy modules were loaded (should be none).

    python bench/cold_start.py [--runs 9] [--format text|json|lines]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

DRAFT = "I'm sorry you feel that way. Per our policy, there is nothing we can do."
HEAVY = ("litellm", "fastapi", "starlette", "uvicorn", "tenacity", "httpx", "openai", "aiohttp", "xllamacpp",
         "prometheus_client")  # fmt: skip


def reviewer_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m reviewer``."""
    script = Path(sys.executable).with_name("reviewer")
    if script.exists():
        return [str(script)]
    found = shutil.which("reviewer")
    return [found] if found else [sys.executable, "-m", "reviewer"]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall-clock seconds, CPU seconds (user + system) of the child, and its exit code.

    On a shared machine the wall clock includes waiting for a core; the CPU time does not.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.returncode


def imports(args: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(nesting depth, cumulative microseconds, module) for every import of one run, from ``-X importtime``."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reviewer", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        found.append((depth, int(parts[1]), name.strip()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--format", choices=["text", "json", "lines"], default="text")
    options = parser.parse_args()

    # A clean environment for the rules path: no model, no local-model default. Bytecode may be written, as an
    # installed package has it (pip compiles at install): with PYTHONDONTWRITEBYTECODE=1 inherited, an editable
    # install would compile every reviewer module from source on every run and the warm-up below could not help.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWER_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["REVIEWER_LOCAL_DEFAULT"] = "false"
    args = ["check", "--rules-only", "--format", options.format, DRAFT]
    command = [*reviewer_command(), *args]

    timed(command, env)  # warm the OS file cache and write .pyc files; not counted
    runs = [timed(command, env) for _ in range(options.runs)]
    seconds = [wall for wall, _, _ in runs]
    cpu = [cpu for _, cpu, _ in runs]
    codes = sorted({code for _, _, code in runs})
    baseline = statistics.median(timed([sys.executable, "-c", "pass"], env)[0] for _ in range(options.runs))
    load = os.getloadavg()[0]

    found = imports(args, env)
    modules = {name for _, _, name in found}
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)

    print(f"command: {' '.join(command[:-1])} '<draft>'   (exit codes: {codes})")
    print(f"cold start, median of {options.runs}: {statistics.median(seconds):.3f} s "
          f"(min {min(seconds):.3f}, max {max(seconds):.3f}); target <= 0.400 s")  # fmt: skip
    print(f"CPU time (user+sys), median: {statistics.median(cpu):.3f} s   (1-min load average {load:.2f} on "
          f"{os.cpu_count()} cores: wall time above includes waiting for a core)")  # fmt: skip
    print(f"bare interpreter (python -c pass), median: {baseline:.3f} s")
    print(f"modules imported: {len(modules)}")
    print("slowest top-level imports (cumulative):")
    top = sorted(((us, name) for depth, us, name in found if depth == 0), reverse=True)[:8]
    for us, name in top:
        print(f"  {us / 1000:7.1f} ms  {name}")
    print(f"heavy modules imported: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
