"""The attention explorer's speed in a real browser, one JSON line:

    make bench            # or: .venv/bin/python benchmarks/bench_explorer.py [--data_dir DIR] [--screenshot PNG]

``hf-onelayer explore`` serves both released models (release/seq2seq, release/course); headless Chromium
(Selenium, Debian's chromium-driver) types a 20-word val sentence, presses Translate and waits until the new
heatmap image has loaded (goal: median <= 1 s over 10 presses, a new sentence each time); then moves the
key-scaling slider one step and waits for the KL read-out to change (goal: median <= 0.5 s over 10 moves).
``--screenshot PNG`` saves the top of the page after the last press, two thirds in size (the README's
picture: ``--screenshot reports/explorer.png``).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import browser  # noqa: E402  (the browser tests' helpers: one code path)

from hf_onelayer.data import load_translation_data  # noqa: E402


def twenty_word_sentences(data_dir: str, n: int = 10) -> list[str]:
    val = load_translation_data(data_dir, splits=("val",))["validation"]["de"]
    return [s for s in val if len(s.split()) == 20][:n]


def main(data_dir: str, screenshot: str | None, presses: int = 10) -> dict:
    sentences = twenty_word_sentences(data_dir, presses)
    port = browser.free_port()
    server = browser.serve([], port)  # the released models
    driver = browser.chromium(1400, 2100)
    wait = browser.wait(driver)
    try:
        browser.open_page(driver, f"http://127.0.0.1:{port}/")
        press_s, previous = [], None
        for sentence in ["Ein Hund rennt."] + sentences:  # the first press warms up
            start = browser.press(driver, sentence)
            wait.until(lambda d: (src := browser.heatmap_src(d)) and src != previous)
            press_s.append(time.perf_counter() - start)
            previous = browser.heatmap_src(driver)
        press_s = press_s[1:]
        wait.until(lambda d: "KL" in browser.text(d, "#kl"))
        move_s = []
        for _ in range(presses):
            before = browser.text(driver, "#kl")
            start = browser.move_slider(driver)
            wait.until(lambda d: browser.text(d, "#kl") != before)
            move_s.append(time.perf_counter() - start)
        if screenshot:  # the page's top (sentence, translations, heatmap, alignment), once the last update is in
            time.sleep(2)
            driver.save_screenshot(screenshot)
            from PIL import Image

            page = Image.open(screenshot)
            top = page.crop((0, 0, page.width, min(page.height, 1240)))
            small = top.resize((top.width * 2 // 3, top.height * 2 // 3), Image.LANCZOS)
            small.quantize(256).save(screenshot, optimize=True)  # a palette PNG: a third of the bytes
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    result = {
        "benchmark": "explorer in headless Chromium, release/seq2seq + release/course loaded, 20-word val sentences",
        "press_to_heatmap_median_s": statistics.median(press_s), "press_to_heatmap_s": press_s, "press_goal_s": 1.0,
        "slider_to_kl_median_s": statistics.median(move_s), "slider_to_kl_s": move_s, "slider_goal_s": 0.5,
        "meets_goals": statistics.median(press_s) <= 1.0 and statistics.median(move_s) <= 0.5,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="../shared/data/multi30k")
    parser.add_argument("--screenshot", default=None, help="save the page as this PNG after the last press")
    args = parser.parse_args()
    main(args.data_dir, args.screenshot)
