"""Shared by the generators of docs/benchmarks.md's sections (cost.py, report.py): where a run
happened, and replacing one generated section between its markers."""

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path


# What the benchmarks themselves write: changes there do not make the code measured dirty.
OUTPUTS = (":(top,exclude)load-tests/results", ":(top,exclude)docs/charts", ":(top,exclude)docs/benchmarks.md")


def commit():
    """The checkout's short commit, `+dirty` when the tree has uncommitted changes (other than
    the benchmarks' own outputs)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", *OUTPUTS],
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "") if head else "unknown"


def machine():
    """CPU model, cores, memory and OS of this machine."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": mem_gib, "os": f"{platform.system()} {platform.release()}"}


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def replace_section(docs, begin, end, heading, section):
    """Puts `section` (which starts with `begin` and ends with `end`) in place of the text between
    the markers in `docs`, or appends it under `heading` when the markers are not there yet."""
    docs = Path(docs)
    text = docs.read_text()
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + section + "\n"
    docs.write_text(text)
