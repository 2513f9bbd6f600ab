"""What ``llmprep bench`` ran on: CPU, cores, memory, Python and library versions, thread settings."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["THREAD_VARIABLES", "all_cores", "describe"]

#: Environment variables that change how many threads a tool uses; recorded with every run.
THREAD_VARIABLES = ("LLMPREP_NUM_THREADS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Distributions whose versions are recorded (absent ones as None).
LIBRARIES = ("llmprep", "tiktoken", "numpy", "torch", "gigatoken", "quicktok-v1", "tokenizers", "matplotlib")


def all_cores() -> int:
    """The cores this process may run on (its CPU affinity), which ``--threads all`` means."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    """The machine and software, as recorded in ``results.json``."""
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "logical_cpus": os.cpu_count(),
        "usable_cores": all_cores(),
        "memory_bytes": _memory_bytes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "thread_environment": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "gpu": None,
    }
    if "torch" in sys.modules or _version("torch"):
        try:
            import torch

            if torch.cuda.is_available():
                info["gpu"] = torch.cuda.get_device_name()
        except ImportError:
            pass
    return info
