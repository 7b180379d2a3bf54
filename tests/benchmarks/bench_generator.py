"""Demo generator speed and memory: the default demo (10,000 people x 365 days) into a temporary folder.

Targets: under 60 s and at least 50,000 touchpoints/s on the 2-core machine. Peak RSS is the process maximum
(resource.getrusage), so run this benchmark in its own process for a clean memory figure.
"""

from __future__ import annotations

import resource
import tempfile
from collections.abc import Callable
from pathlib import Path

from cx_demo.generate import generate_demo

TARGET_SECONDS = 60
TARGET_TOUCHPOINTS_PER_SECOND = 50_000


def run(report: Callable[[str], None] | None = None, customers: int = 10_000, days: int = 365) -> dict[str, float]:
    """Generate the demo once and return its figures; `report` (e.g. print) receives the generator's summary."""
    with tempfile.TemporaryDirectory(prefix="cx-bench-demo-") as tmp:
        summary = generate_demo(out_dir=Path(tmp) / "landing", truth_dir=Path(tmp) / "truth", customers=customers, days=days,
                                seed=42, progress=False)
    if report:
        report(summary.describe())
    figures: dict[str, float] = {
        "demo_customers": customers,
        "demo_days": days,
        "demo_seconds": round(summary.seconds, 2),
        "demo_touchpoints": summary.touchpoints,
        "demo_touchpoints_per_s": round(summary.touchpoints_per_second),
        "demo_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "demo_target_seconds": TARGET_SECONDS,
        "demo_target_touchpoints_per_s": TARGET_TOUCHPOINTS_PER_SECOND,
    }
    figures.update({f"demo_rows_{source}": n for source, n in summary.rows.items()})
    return figures


if __name__ == "__main__":
    for name, value in run(print).items():
        print(f"{name:>40}: {value:,}")
