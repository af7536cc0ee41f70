"""Chart rendering time per chart, cold (empty cache) and cached, for the demo's current releases."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statpress import calendar, charts, drawing, publish  # noqa: E402
from statpress.content import OSLO, load_all  # noqa: E402
from statpress.data import load_catalog  # noqa: E402
from statpress.locale import load_locale  # noqa: E402
from statpress.tables import load_specs  # noqa: E402


def main() -> int:
    now = dt.datetime.now(OSLO)
    catalog, locale = load_catalog(ROOT), load_locale(ROOT, "en")
    print(f"{'chart':40} {'cold s':>7} {'cached s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        for s in load_all(ROOT / "content"):
            release = calendar.due(s, now)
            computed, _ = publish.compute_release(s, catalog, release)
            path, spec = load_specs(ROOT / "stats", s.id)
            for raw in spec.charts:
                times = []
                for _ in range(2):
                    start = time.perf_counter()
                    charts.build_charts(path, [raw], computed.tables, locale, release.period, cache, drawing.InProcess())
                    times.append(time.perf_counter() - start)
                print(f"{s.id + '/' + raw['id']:40} {times[0]:7.2f} {times[1]:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
