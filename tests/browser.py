"""Driving ``hf-onelayer explore`` in headless Chromium (Selenium with Debian's chromium-driver): the one code path
of the browser tests, ``benchmarks/bench_explorer.py`` and the README's screenshot."""

import os
import shutil
import socket
import subprocess
import sys
import time

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(args: list[str], port: int, log=subprocess.DEVNULL, timeout_s: float = 120) -> subprocess.Popen:
    """``hf-onelayer explore ARGS --port PORT`` in a child process, returned once the port answers."""
    server = subprocess.Popen([sys.executable, "-m", "hf_onelayer.cli", "explore", *args, "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"hf-onelayer explore exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise RuntimeError(f"hf-onelayer explore did not answer on port {port} in {timeout_s} s")


def chromium(width: int = 1400, height: int = 2000):
    """A headless Chromium driven by Debian's chromedriver (no download by Selenium Manager)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def wait(driver, timeout_s: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.005)


def text(driver, css: str) -> str:
    """The value of a text box, else the shown text, of the element at ``css``."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, css)
    return element.get_attribute("value") if element.tag_name in ("textarea", "input") else element.text


def open_page(driver, url: str):
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#sentence textarea"))


def press(driver, sentence: str) -> float:
    """Type ``sentence`` in place of the last one and press Translate; the ``perf_counter`` of the press."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, "#sentence textarea")
    box.clear()
    box.send_keys(sentence)
    start = time.perf_counter()
    driver.find_element(By.CSS_SELECTOR, "#translate").click()
    return start


def heatmap_src(driver) -> str | None:
    """The ``src`` of the heatmap image once it has loaded, else None."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, "#heatmap img")
    if found and driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 100", found[0]):
        return found[0].get_attribute("src")
    return None


def move_slider(driver, steps: int = 1) -> float:
    """Move the key-scaling slider ``steps`` steps right (0.25 each); the ``perf_counter`` of the last key."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    slider = driver.find_element(By.CSS_SELECTOR, "#scale input[type=range]")
    for _ in range(steps):
        start = time.perf_counter()
        slider.send_keys(Keys.ARROW_RIGHT)
    return start
