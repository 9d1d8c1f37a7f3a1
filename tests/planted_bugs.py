"""Issue 17's ten one-line bugs, planted again one at a time (`bash scripts/planted_bugs`).

Each bug is written into the source, the fast test files that should notice it run, the
tests that failed are printed, and the file is restored from git. A bug no test notices
is reported as missed and the run exits 1. It refuses to start when a file it plants in
has uncommitted changes, since restoring the file would lose them.
"""

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE_TESTS = ("tests/test_memory_engine.py", "tests/test_documented_behaviours.py")
SERVICE_TESTS = ("tests/test_memory_service.py", "tests/test_documented_behaviours.py")


@dataclass(frozen=True)
class Bug:
    name: str
    path: str
    correct: str
    planted: str
    tests: tuple[str, ...]


BUGS = (
    Bug("a repeat push answers 201 instead of 200", "config/rest/pushing.py",
        'code = status.HTTP_201_CREATED if pushed.status == "created" else status.HTTP_200_OK',
        "code = status.HTTP_201_CREATED", ("tests/test_api.py",)),
    Bug("λ fixed at 2.25 in the engine, the setting ignored", "memory/engine.py",
        "return raw if raw >= 0.0 else params.loss_aversion * raw",
        "return raw if raw >= 0.0 else 2.25 * raw", ENGINE_TESTS),
    Bug("λ = 2.0", "memory/engine.py",
        "return raw if raw >= 0.0 else params.loss_aversion * raw",
        "return raw if raw >= 0.0 else 2.0 * raw", ENGINE_TESTS),
    Bug("the sweeper counts only never-scored customers as stale", "memory/services.py",
        'Customer.objects.filter(history_version__gt=F("memory_version"))',
        "Customer.objects.filter(history_version__gt=0, memory__isnull=True)", SERVICE_TESTS),
    Bug("support staff admitted to the dashboard", "dashboards/views.py",
        "@role_required(*MANAGEMENT)\ndef dashboard(", "@role_required(*MANAGEMENT, \"Support staff\")\ndef dashboard(",
        ("tests/test_page_access.py",)),
    Bug("bulk results report index + 1", "config/rest/pushing.py",
        '"index": index,', '"index": index + 1,', ("tests/test_api.py", "tests/test_documented_behaviours.py")),
    Bug("softening uses the first recovery instead of the best", "memory/engine.py",
        "best_quality[complaint.id] = max(best_quality.get(complaint.id, 0.0), quality)",
        "best_quality.setdefault(complaint.id, quality)", ENGINE_TESTS),
    Bug("softening ignores the recovery's quality", "memory/engine.py",
        "(1.0 - params.recovery_softening * quality)", "(1.0 - params.recovery_softening)", ENGINE_TESTS),
    Bug("changed memory parameters no longer force a recompute", "memory/services.py",
        "full = force_recompute or memory.parameters_fingerprint != fingerprint or", "full = force_recompute or",
        SERVICE_TESTS),
    Bug("CSV imports send interaction.recorded webhooks", "interactions/imports.py",
        "record_payloads(payloads, notify_webhooks=False)", "record_payloads(payloads, notify_webhooks=True)",
        ("tests/test_imports.py", "tests/test_documented_behaviours.py")),
)  # fmt: skip


def _uncommitted(paths: set[str]) -> list[str]:
    changed = subprocess.run(["git", "status", "--porcelain", "--", *sorted(paths)], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line[3:] for line in changed.splitlines()]


def _plant(bug: Bug) -> tuple[list[str], str]:
    source_file = ROOT / bug.path
    source = source_file.read_text()
    if source.count(bug.correct) != 1:
        raise SystemExit(f"{bug.path}: the line to break is no longer there once; update tests/planted_bugs.py.")
    source_file.write_text(source.replace(bug.correct, bug.planted))
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *bug.tests],
                             cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    finally:
        subprocess.run(["git", "checkout", "--", bug.path], cwd=ROOT, check=True)
    lines = run.stdout.strip().splitlines()
    return sorted(set(re.findall(r"^FAILED (\S+)", run.stdout, re.MULTILINE))), lines[-1] if lines else run.stderr


def main() -> int:
    dirty = _uncommitted({bug.path for bug in BUGS})
    if dirty:
        print(f"Commit or stash these first (each is restored from git after its bug): {', '.join(dirty)}")
        return 2
    missed = 0
    for number, bug in enumerate(BUGS, 1):
        started = time.monotonic()
        failed, summary = _plant(bug)
        verdict = f"caught by {len(failed)} test(s)" if failed else "MISSED"
        print(f"{number:2}. {bug.name}: {verdict}, {time.monotonic() - started:.0f} s ({summary})")
        for test in failed:
            print(f"      {test}")
        missed += not failed
    print(f"{len(BUGS) - missed} of {len(BUGS)} planted bugs caught.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
