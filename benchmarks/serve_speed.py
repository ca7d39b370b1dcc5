"""`claimtrack serve`: how soon it answers, and how fast an item page comes with a large queue.

    python benchmarks/serve_speed.py [--items 1000] [--pages 50] [--screenshots DIR]

Builds a workspace of three claims with `--items` open review items (queued through the real enqueue, as
tests/web_helpers.py does), starts `claimtrack serve --port 0` as a user would, and measures: start-up (from
the process's launch to the first page answered) beside `claimtrack --help` (the CLI's own start-up), and the
median time of `--pages` item pages (each a different item, with its decision previews) beside the queue page
and a static file from the same server. Targets: start-up under 2 s, an item page under 100 ms.

`--screenshots DIR` instead writes docs/review.md's two pictures (the queue and an item, taken by Debian's
chromium, headless) from a five-item workspace.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from web_helpers import make_workspace, serving  # noqa: E402


def _seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def _median_get(client: httpx.Client, urls: list[str]) -> float:
    times = []
    for url in urls:
        start = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200, (url, answer.status_code)
    return statistics.median(times)


def measure(items: int, pages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ws = make_workspace(Path(tmp) / "ws", items)
        print(f"workspace: {items} open items in {time.perf_counter() - start:.1f}s")
        cli = _seconds([sys.executable, "-m", "claimtrack", "--help"])
        start = time.perf_counter()
        with serving(ws) as (url, _):
            started = time.perf_counter() - start  # serving() returns once a page was answered
            with httpx.Client(base_url=url, timeout=30) as client:
                queue = client.get("/").text
                ids = [i.split('"')[0] for i in queue.split('data-item="')[1:]][:pages]
                client.get(f"/item/{ids[0]}")  # the first page warms the templates
                item = _median_get(client, [f"/item/{i}" for i in ids])
                whole = _median_get(client, ["/"] * 5)
                static = _median_get(client, ["/static/review.css"] * 20)
    print(f"start-up: serve {started:.2f}s (target < 2 s); `claimtrack --help` {cli:.2f}s; ratio {started / cli:.1f}")
    print(f"item page: median {item * 1000:.1f} ms over {len(ids)} items (target < 100 ms)")
    print(f"queue page ({items} items): median {whole * 1000:.0f} ms; static file {static * 1000:.1f} ms")
    print(f"ratios: item page / static file {item / static:.1f}; queue page / item page {whole / item:.1f}")


def screenshots(folder: Path) -> None:
    from cdp import Browser

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "ws", 5)
        browser = Browser(Path(tmp) / "profile", size="1100,900")
        try:
            with serving(ws) as (url, _):
                browser.open(url)
                browser.screenshot(folder / "review-queue.png")
                browser.press("j")
                browser.screenshot(folder / "review-item.png")
        finally:
            browser.close()
    for name in ("review-queue.png", "review-item.png"):
        print(f"{folder / name}: {(folder / name).stat().st_size // 1024} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    if args.screenshots:
        screenshots(args.screenshots)
    else:
        measure(args.items, args.pages)


if __name__ == "__main__":
    main()
