"""The suite holds on every x86-64 machine, whichever BLAS kernels its CPU selects.

OpenBLAS picks its kernels by CPU (``OPENBLAS_CORETYPE`` overrides the pick), and
float32 results differ in the last bits between kernels. Tests marked ``portable``
are the ones that compare with numbers recorded on another machine (model files
from an older format) or assert bit-for-bit determinism; here each runs again in a
fresh process under the kernels every x86-64 CPU with AVX2 can run (Prescott's
SSE3, Sandybridge's AVX, Haswell's AVX2) and the machine's own default, each with
OpenBLAS on one thread, and Haswell's on two (the suite's own run is the default kernel
on two).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE_TYPES = ("Prescott", "Sandybridge", "Haswell", None)  # None: the machine's own choice
#: (kernel, OpenBLAS threads) of each run: every kernel on one thread, and Haswell's (the
#: other family a 2-core machine here runs) on two as well; the machine's own kernel on
#: two threads is the suite's own run of these tests, not repeated here
RUNS = [(core_type, 1) for core_type in CORE_TYPES] + [("Haswell", 2)]
#: kernels older than any a 2-core machine here selects (no AVX2)
OLD_KERNELS = ("Prescott", "Sandybridge")
#: the CPU flag each kernel needs, as /proc/cpuinfo names it (pni: SSE3)
NEEDS = {"Prescott": "pni", "Sandybridge": "avx", "Haswell": "avx2"}
#: what OpenBLAS reports under each forced kernel: builds without Prescott's own
#: kernels (scipy-openblas 0.3.31) run their generic SSE ones, which it calls Katmai
REPORTED = {
    "Prescott": {"prescott", "katmai"},
    "Sandybridge": {"sandybridge"},
    "Haswell": {"haswell"},
}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def blas_env(core_type: str | None, threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "PYTEST_"))}
    # none of the installed pytest plugins (xdist, nbmake, schemathesis, playwright, …): the
    # portable tests need none, and loading them took 4.5 of a run's 7.7 s
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = "1"  # the baselines' OpenMP: the other core runs other tests
    if core_type is not None:
        env["OPENBLAS_CORETYPE"] = core_type
    return env


def openblas_kernel(env: dict[str, str]) -> tuple[str, int]:
    """The kernel family and thread count OpenBLAS reports in a process with ``env``."""
    code = (
        "import numpy, threadpoolctl\n"
        "info = [i for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(info[0]['architecture'], info[0]['num_threads'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    architecture, threads = result.stdout.split()
    return architecture, int(threads)


def portable_modules() -> list[str]:
    """The test modules that hold ``portable`` tests (the others need not be imported)."""
    here = Path(__file__).resolve().parent
    return sorted(
        str(p)
        for p in here.glob("test_*.py")
        if p.name != Path(__file__).name and "@pytest.mark.portable" in p.read_text()
    )


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 kernels only")
@pytest.mark.parametrize(("core_type", "threads"), RUNS, ids=lambda v: str(v or "default"))
def test_portable_tests_pass_under_every_kernel(core_type: str | None, threads: int) -> None:
    flags = cpu_flags()
    if core_type is not None and flags and NEEDS[core_type] not in flags:
        pytest.skip(f"this CPU cannot run OpenBLAS's {core_type} kernels ({NEEDS[core_type]})")
    env = blas_env(core_type, threads)
    architecture, reported_threads = openblas_kernel(env)
    if core_type is not None:
        assert architecture.lower() in REPORTED[core_type], architecture
    assert reported_threads == threads
    # the cross-process test (two trainings through the command line) sets OpenBLAS's threads
    # itself (1 and 2): once per kernel a machine here runs (Haswell's, its own) is enough
    skip = ["-k", "not across_processes"] if threads > 1 or core_type in OLD_KERNELS else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "portable",
            "-p",
            "no:cacheprovider",
            *skip,
            *portable_modules(),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{architecture}, {threads} thread(s):\n{result.stdout[-4000:]}"
    assert " passed" in summary and "failed" not in summary, summary
