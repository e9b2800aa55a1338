"""How fast `cnninspect explore` opens a big model and shows a layer, headless.

For each file: the seconds from the start of the process (imports included) until the
layer tree is on screen, then, for the layer with the most weights that has filters, the
seconds until its filters are shown (read in a thread worker), and the peak RSS. The issue
asks for "a second or two even on a 550 MB model".

    python benchmarks/explore_open.py benchmarks/data/vgg16.h5 benchmarks/data/nasnetmobile.h5

Each file is measured in a fresh process (`--one FILE`, printed as one JSON line).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

START = time.perf_counter()


def measure(path: str) -> dict:
    import asyncio
    from pathlib import Path

    from cnninspect.explore.app import ExploreApp
    from cnninspect.loaders import open_model
    from cnninspect.reports.shapes import shapes_report

    async def run() -> dict:
        with open_model(Path(path)) as model:
            app = ExploreApp(model, shapes_report(model))
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.pause()
                shown = time.perf_counter() - START
                layers = [r for r in model.rows() if r.layer.op in ("conv", "dense") and r.layer.weights]
                biggest = max(layers, key=lambda r: r.layer.params)
                before = time.perf_counter()
                app.show_layer(biggest.index)
                await app.workers.wait_for_complete()
                await pilot.pause()
                return {
                    "file": path,
                    "tree_shown_s": round(shown, 3),
                    "layer": biggest.path,
                    "filters_shown_s": round(time.perf_counter() - before, 3),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                }

    return asyncio.run(run())


def main() -> int:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2])))
        return 0
    for path in sys.argv[1:]:
        done = subprocess.run([sys.executable, __file__, "--one", path], capture_output=True, text=True, check=True)
        print(done.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
