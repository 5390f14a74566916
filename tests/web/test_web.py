#!/usr/bin/env python3
"""The web app (web/dist/, built by scripts/web.sh) in headless Chromium.

    python tests/web/test_web.py --dist web/dist --photos DIR --native NATIVE.json [--json-out report.json]

NATIVE.json maps a photo's file name to native taxa's answer for it:
{"owl.jpg": {"model": "bird", "label": "Athene cunicularia", "score": 0.962}, ...}
(optionally "common_name"). Every photo in it is classified in the page and
must get the same top label, with a score within 0.02.

Needs selenium (4.50), Pillow, numpy, Debian's chromium and chromium-driver
(/usr/bin/chromedriver). The site is served in-process by web/serve.py's
handler on a free port, so the offline check can stop the server. Prints one
line a check and, last, `N passed, M failed`; exits 1 when a check fails.
"""
import argparse
import functools
import http.server
import importlib.util
import io
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCORE_TOLERANCE = 0.02
CHROMEDRIVER = "/usr/bin/chromedriver"


# ---- the server -------------------------------------------------------------

def _serve_module():
    spec = importlib.util.spec_from_file_location("taxa_web_serve", ROOT / "web" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    """web/serve.py's handler in a thread; stop() and start() again keep the port."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.port = 0
        self.httpd = None
        serve = _serve_module()

        class Quiet(serve.Handler):
            def log_message(self, *args):
                pass

        self.handler = functools.partial(Quiet, directory=self.directory)

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="web-serve", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.httpd = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.headers, response.read()


# ---- the browser ------------------------------------------------------------

def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no chromium found: apt-get install -y chromium chromium-driver")


def launch(profile_dir, extra_args=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium_binary()
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile_dir}", "--window-size=1280,900", *extra_args,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    return driver


class Page:
    """The app in one browser, and the waits a check needs."""

    def __init__(self, driver, server):
        self.driver = driver
        self.server = server

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def js_async(self, script, *args):
        return self.driver.execute_async_script(script, *args)

    def state(self):
        return self.js("return window.taxaTest ? window.taxaTest.state() : null;")

    def wait(self, condition, timeout=30, message="timed out"):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        last = {}

        def probe(_):
            value = condition()
            last["value"] = value
            return value

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(probe)
        except TimeoutException:
            raise AssertionError(f"{message} (after {timeout} s; page state: {self.brief()})") from None

    def brief(self):
        try:
            s = self.state() or {}
        except Exception as e:  # the page itself is gone
            return f"<no state: {e.__class__.__name__}>"
        model = (s.get("model") or {}).get("name")
        brief = {k: s.get(k) for k in ("ready", "status", "modelStatus", "notices", "lastError", "restarts")} | {"model": model}
        live = s.get("live") or {}
        if live.get("on") or live.get("error"):
            top = ((live.get("result") or {}).get("predictions") or [{}])[0]
            brief["live"] = {"frames": live.get("frames"), "error": live.get("error"), "top": [top.get("label"), top.get("score")]}
        return json.dumps(brief)

    def wait_ready(self, timeout=60):
        self.wait(lambda: (self.state() or {}).get("ready"), timeout, "the page never got a model ready")
        return self.state()

    def open(self):
        self.driver.get(self.server.url)
        return self.wait_ready()

    def reload(self):
        self.driver.refresh()
        return self.wait_ready()

    def text(self, selector="body"):
        return self.js("return document.querySelector(arguments[0]).innerText;", selector)

    def model_key(self):
        model = (self.state() or {}).get("model") or {}
        return model.get("key")

    def choose_model(self, key, timeout=60):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        self.wait_ready()
        if self.model_key() == key:
            return self.state()
        loads = self.state()["modelLoads"]
        Select(self.driver.find_element(By.ID, "model")).select_by_value(key)
        self.wait(lambda: self.state()["modelLoads"] > loads, timeout, f"the {key} model never loaded")
        state = self.state()
        assert self.model_key() == key, f"the {key} model did not become active: {state['modelStatus']}"
        return state

    def upload_model(self, path, timeout=60):
        from selenium.webdriver.common.by import By

        loads = self.state()["modelLoads"]
        self.driver.find_element(By.ID, "own-model").send_keys(str(Path(path).resolve()))
        self.wait(lambda: self.state()["modelLoads"] > loads, timeout, f"loading {path.name} never finished")
        return self.state()

    def classify(self, path, timeout=60):
        """Chooses the photo, waits for the page to finish it; the page's state."""
        from selenium.webdriver.common.by import By

        done = self.state()["photoCount"]
        self.driver.find_element(By.ID, "choose-photo").send_keys(str(Path(path).resolve()))
        self.wait(lambda: self.state()["photoCount"] > done, timeout, f"{path.name} was never finished")
        return self.state()

    def console(self):
        try:
            return [f"{e['level']} {e['message']}" for e in self.driver.get_log("browser")]
        except Exception:
            return []


# ---- helpers for the checks ---------------------------------------------------

def expect_species(page, photo, native, state=None):
    """`photo`'s result in the page matches native taxa's, and is shown."""
    state = state or page.state()
    result = state.get("lastResult")
    assert result and result.get("file") == photo.name, f"no result for {photo.name}: {state.get('lastError') or state.get('status')}"
    top = result["predictions"][0]
    assert top["label"] == native["label"], f"{photo.name}: top label {top['label']!r} ({top['score']:.3f}), native {native['label']!r}"
    diff = abs(top["score"] - native["score"])
    assert diff <= SCORE_TOLERANCE, f"{photo.name}: score {top['score']:.4f} vs native {native['score']:.4f} (off by {diff:.4f})"
    shown = page.text("#results")
    if top["is_taxon"]:
        scientific = top["taxonomy"].get("species") or top["label"]
        assert scientific in shown, f"{scientific!r} is not shown: {shown!r}"
        common = native.get("common_name") or top["taxonomy"].get("common_name")
        if common:
            assert common in shown, f"{common!r} is not shown: {shown!r}"
    else:
        assert "No species recognised" in shown, f"'No species recognised' is not shown: {shown!r}"
    return top, result


def write_y4m(photo, path, frames=6, max_side=640):
    """A short YUV420p video of a still photo, for Chromium's fake camera."""
    import numpy as np
    from PIL import Image

    image = Image.open(photo).convert("RGB")
    scale = min(1.0, max_side / max(image.size))
    w = max(2, int(image.width * scale) // 2 * 2)
    h = max(2, int(image.height * scale) // 2 * 2)
    rgb = np.asarray(image.resize((w, h), Image.BILINEAR), dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # BT.601, limited range: what Chromium assumes for a y4m file.
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    sub = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in (y, sub(u), sub(v))]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n")
            for plane in planes:
                f.write(plane)
    return w, h


# ---- the checks -------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.dist = Path(args.dist).resolve()
        self.photos = Path(args.photos).resolve()
        self.native = json.loads(Path(args.native).read_text())
        self.tmp = Path(tempfile.mkdtemp(prefix="taxa-web-test-"))
        self.results = []
        self.server = None
        self.page = None

    def photo(self, name):
        path = self.photos / name
        assert path.is_file(), f"no photo {path}"
        return path

    def native_for(self, name):
        assert name in self.native, f"{name} is not in {self.args.native}"
        return self.native[name]

    def owl(self):
        """The reference photo (owl.jpg when NATIVE.json has it) and native's answer."""
        name = "owl.jpg" if "owl.jpg" in self.native else next(iter(self.native))
        return self.photo(name), self.native[name]

    def skip_failed(self, name, why):
        self.results.append({"name": name, "ok": False, "seconds": 0, "detail": why})
        print(f"FAIL {name}: {why}", flush=True)

    def check(self, name, fn, *args):
        start = time.monotonic()
        try:
            detail = fn(*args) or ""
            ok = True
        except Exception as e:  # a failed check; the others still run
            ok = False
            detail = f"{e.__class__.__name__}: {e}" if not isinstance(e, AssertionError) else str(e)
            if not isinstance(e, AssertionError):
                detail += "\n" + "".join(traceback.format_exception(e)[-3:])
            if self.page:
                shot = self.tmp / f"failed-{len(self.results)}-{name.replace(' ', '_').replace('/', '_')}.png"
                try:
                    self.page.driver.save_screenshot(str(shot))
                    detail += f"\n  screenshot: {shot}"
                except Exception:
                    pass
                logs = [l for l in self.page.console() if "SEVERE" in l or "WARNING" in l]
                if logs:
                    detail += "\n  console: " + "\n  console: ".join(logs[-8:])
        seconds = time.monotonic() - start
        self.results.append({"name": name, "ok": ok, "seconds": round(seconds, 2), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'} {name} ({seconds:.1f} s){': ' + detail if detail else ''}", flush=True)
        return ok

    # g. installable
    def installable(self):
        page = self.page
        href = page.js("const l = document.querySelector('link[rel=manifest]'); return l && l.getAttribute('href');")
        assert href, "no <link rel=manifest>"
        headers, body = self.server.get(href)
        assert "manifest+json" in headers.get("Content-Type", ""), f"manifest served as {headers.get('Content-Type')}"
        manifest = json.loads(body)
        for key in ("name", "short_name", "start_url", "display"):
            assert manifest.get(key), f"the manifest has no {key}"
        assert manifest["display"] in ("standalone", "fullscreen", "minimal-ui"), manifest["display"]
        from PIL import Image

        sizes = set()
        for icon in manifest.get("icons", []):
            _, data = self.server.get(icon["src"])
            image = Image.open(io.BytesIO(data))
            declared = icon["sizes"]
            assert f"{image.width}x{image.height}" == declared, f"{icon['src']} is {image.size}, declared {declared}"
            sizes.add(declared)
        assert {"192x192", "512x512"} <= sizes, f"icon sizes {sizes}"
        # The service worker: registered, activated, controlling the page, with the build's cache.
        page.wait(lambda: page.js("return !!navigator.serviceWorker.controller;"), 60, "no service worker controls the page")
        reg = page.js_async("""
            const done = arguments[arguments.length - 1];
            navigator.serviceWorker.getRegistration().then(r => done(r && {
                scope: r.scope, active: r.active && r.active.state, script: r.active && r.active.scriptURL}));
        """)
        assert reg and reg["active"] == "activated", f"registration {reg}"
        _, build = self.server.get("build.json")
        build = json.loads(build)["build"]
        caches = page.js_async("const done = arguments[arguments.length - 1]; caches.keys().then(done);")
        assert f"taxa-{build}" in caches, f"caches {caches}, build {build}"
        return f"manifest {manifest['name']!r}, icons {sorted(sizes)}, worker {reg['active']}, cache taxa-{build}"

    # a. real photos named to species
    def species(self, name):
        native = self.native_for(name)
        photo = self.photo(name)
        self.page.choose_model(native["model"])
        state = self.page.classify(photo)
        top, result = expect_species(self.page, photo, native, state)
        return f"{top['label']} {top['score']:.4f} (native {native['score']:.4f}), {result['ms']:.0f} ms"

    # a photo over 16 megapixels is scaled down by the canvas, then classified
    def large_photo(self):
        from PIL import Image

        photo, native = self.owl()
        big = self.tmp / "large.jpg"
        image = Image.open(photo).convert("RGB")
        image.resize((5200, 3900), Image.BICUBIC).save(big, quality=85)
        self.page.choose_model(native["model"])
        state = self.page.classify(big, timeout=120)
        result = state.get("lastResult")
        assert result and result["file"] == big.name, f"no result: {state.get('lastError') or state['status']}"
        assert (result["fullWidth"], result["fullHeight"]) == (5200, 3900), result
        assert result["width"] * result["height"] <= 16_000_000 and result["width"] >= 4600, (result["width"], result["height"])
        assert result["predictions"][0]["label"] == native["label"], result["predictions"][0]
        assert "scaled down from 5200×3900" in self.page.text("#timing")
        return f"5200×3900 → {result['width']}×{result['height']}: {native['label']} {result['predictions'][0]['score']:.4f}, {result['ms']:.0f} ms (+{result['decodeMs']:.0f} ms decoding)"

    # EXIF orientation: a photo stored on its side is classified upright
    def exif_orientation(self):
        from PIL import Image

        photo, native = self.owl()
        image = Image.open(photo).convert("RGB")
        turned = self.tmp / "turned.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # the viewer turns it 90° clockwise
        image.transpose(Image.Transpose.ROTATE_90).save(turned, quality=95, exif=exif.tobytes())
        self.page.choose_model(native["model"])
        state = self.page.classify(turned)
        result = state.get("lastResult")
        assert result and result["file"] == turned.name, f"no result: {state.get('lastError') or state['status']}"
        assert (result["width"], result["height"]) == image.size, f"decoded {result['width']}×{result['height']}, upright {image.size}"
        top = result["predictions"][0]
        assert top["label"] == native["label"], top
        return f"stored {image.height}×{image.width}, classified upright {result['width']}×{result['height']}: {top['label']} {top['score']:.4f}"

    # b. a file the browser cannot decode, then a good photo
    def broken_photo(self):
        broken = self.tmp / "broken.jpg"
        broken.write_bytes(random.Random(7).randbytes(20000))
        state = self.page.classify(broken)
        error = state.get("lastError") or ""
        assert error.startswith("Could not read this photo"), f"error {error!r}, status {state['status']!r}"
        assert "Could not read this photo" in self.page.text("#status"), "the error is not shown"
        photo, native = self.owl()
        self.page.choose_model(native["model"])
        expect_species(self.page, photo, native, self.page.classify(photo))
        return error

    # d. a file that is not a bundle
    def bad_bundle(self):
        page = self.page
        photo, native = self.owl()
        page.choose_model(native["model"])
        before = page.state()["model"]
        bad = self.tmp / "not-a-model.onnx"
        bad.write_text("this is a text file, not a taxa bundle\n" * 20)
        state = page.upload_model(bad)
        assert state["model"]["name"] == before["name"], f"the model changed to {state['model']['name']}"
        message = state["modelStatus"]
        assert "could not be loaded" in message and len(message) > 40, f"model status {message!r}"
        assert message in page.text("#model-status")
        after = page.classify(photo)
        expect_species(page, photo, native, after)
        assert after["lastResult"]["model"] == before["name"]
        return message

    # e. a wasm panic: the worker is replaced and the page keeps working
    def panic(self):
        page = self.page
        photo, native = self.owl()
        restarts = page.state()["restarts"]
        page.js("window.taxaTest.panic();")
        page.wait(lambda: page.state()["restarts"] > restarts, 20, "no restart after the panic")
        state = page.wait_ready(60)
        told = [n for n in state["notices"] if "The classifier stopped" in n and "restarted" in n]
        assert told, f"notices {state['notices']}"
        assert "The classifier stopped" in page.text("#notices")
        expect_species(page, photo, native, page.classify(photo))
        return told[0]

    # camera with no device: a clear message
    def no_camera(self):
        page = self.page
        page.js("document.getElementById('camera-toggle').click();")
        page.wait(lambda: (page.state()["live"].get("error") or page.state()["live"]["on"]), 20, "getUserMedia never answered")
        live = page.state()["live"]
        if live["on"]:
            page.js("document.getElementById('camera-stop').click();")
            return "this machine has a camera: nothing to check"
        assert live["error"] in page.text("#notices"), "the camera message is not shown"
        return live["error"]

    # the layout at a phone's width
    def narrow_layout(self):
        page = self.page
        page.driver.set_window_size(360, 800)
        try:
            page.wait(lambda: page.js("return window.innerWidth;") <= 360, 5, "the window did not shrink")
            overflow = page.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            assert overflow <= 0, f"the page is {overflow} px wider than a 360 px screen"
            labelled = page.js("""
                return [...document.querySelectorAll('input, select')].every(
                    e => e.labels && e.labels.length > 0);""")
            assert labelled, "a control has no <label>"
            # Keyboard: Tab reaches every control, in the page's order.
            from selenium.webdriver.common.action_chains import ActionChains
            from selenium.webdriver.common.keys import Keys

            page.js("document.getElementById('choose-photo').focus();")
            reached = [page.js("return document.activeElement.id;")]
            for _ in range(4):
                ActionChains(page.driver).send_keys(Keys.TAB).perform()
                reached.append(page.js("return document.activeElement.id;"))
            expected = ["choose-photo", "take-photo", "camera-toggle", "model", "own-model"]
            assert reached == expected, f"Tab reached {reached}"
        finally:
            page.driver.set_window_size(1280, 900)
        return "no horizontal scroll at 360 px; every control labelled and reached by Tab"

    # a full storage: the user's bundle works for this visit only, and says so
    def storage_full(self):
        page = self.page
        page.choose_model("bird")
        page.js("navigator.storage.estimate = async () => ({usage: 1000, quota: 2000});")
        own = self.tmp / "too-big.onnx"
        shutil.copyfile(self.dist / "models" / "inat_bird.onnx", own)
        state = page.upload_model(own)
        assert state["model"]["name"] == "too-big.onnx", f"own model not active: {state['modelStatus']}"
        page.wait(lambda: "will not be kept" in page.state()["modelStatus"], 20, "no word on the full storage")
        message = page.state()["modelStatus"]
        assert "storage is full" in message, message
        page.reload()
        state = page.state()
        assert state["model"]["key"] == "bird", f"after a reload the model is {state['model']}"
        return message

    # h. the chosen model is kept for the next visit
    def model_kept(self):
        page = self.page
        page.choose_model("insect")
        # Not precached: the service worker keeps it on first use.
        page.wait(lambda: page.js_async(
            "const done = arguments[arguments.length - 1];"
            "caches.match('models/inat_insect.onnx').then(r => done(!!r));"), 20, "the insect model was not cached on first use")
        page.reload()
        assert page.model_key() == "insect", f"after a reload the model is {page.state()['model']}"
        assert page.js("return document.getElementById('model').value;") == "insect"
        # The user's own bundle (a copy of the bird model) goes to IndexedDB.
        own = self.tmp / "my-birds.onnx"
        shutil.copyfile(self.dist / "models" / "inat_bird.onnx", own)
        state = page.upload_model(own)
        assert state["model"]["key"] == "own", f"own model not active: {state['modelStatus']}"
        page.wait(lambda: "kept" in page.state()["modelStatus"], 20, "the own model was never stored")
        status = page.state()["modelStatus"]
        assert "will not be kept" not in status, status
        page.reload()
        state = page.state()
        assert state["model"]["key"] == "own" and state["model"]["name"] == "my-birds.onnx", f"after a reload: {state['model']}"
        photo, native = self.owl()
        if native["model"] == "bird":
            expect_species(page, photo, native, page.classify(photo))
        page.choose_model("bird")
        return "insect kept over a reload; own bundle kept in IndexedDB over a reload"

    # c. offline: the server stops, the app still opens and classifies
    def offline(self):
        page = self.page
        photo, native = self.owl()
        page.choose_model(native["model"])
        page.wait(lambda: page.js("return !!navigator.serviceWorker.controller;"), 30, "no service worker")
        # A new build (the check before this one) starts an empty cache for
        # the models: use the insect model once under this build, and wait
        # until the service worker has kept it, before going offline.
        insects = [n for n, v in self.native.items() if v["model"] == "insect" and (self.photos / n).is_file()]
        if insects:
            page.choose_model("insect")
            page.wait(lambda: page.js_async(
                "const done = arguments[arguments.length - 1];"
                "caches.match('models/inat_insect.onnx').then(r => done(!!r));"), 20, "the insect model was not cached on use")
            page.choose_model(native["model"])
        self.server.stop()
        try:
            try:
                self.server_get_raises()
            except AssertionError:
                raise
            page.reload()
            assert page.js("return !!navigator.serviceWorker.controller;"), "the reloaded page has no service worker"
            expect_species(page, photo, native, page.classify(photo))
            done = [f"{photo.name} offline"]
            if insects:
                page.choose_model("insect")
                expect_species(page, self.photo(insects[0]), self.native[insects[0]], page.classify(self.photo(insects[0])))
                done.append(f"{insects[0]} offline with the insect model")
                page.choose_model("bird")
        finally:
            self.server.start()
        return "; ".join(done)

    def server_get_raises(self):
        try:
            self.server.get("build.json")
        except (urllib.error.URLError, ConnectionError, OSError):
            return
        raise AssertionError("the server still answers after stop()")

    # f. the live camera, with Chromium's fake camera playing the owl
    def camera(self, page):
        photo, native = self.owl()
        page.open()
        page.choose_model(native["model"])
        page.js("document.getElementById('camera-toggle').click();")
        page.wait(lambda: page.state()["live"]["on"] or page.state()["live"].get("error"), 20, "the camera never started")
        assert page.state()["live"]["on"], f"camera error: {page.state()['live'].get('error')}"

        def named():
            result = page.state()["live"].get("result")
            return result and result["predictions"][0]["label"] == native["label"]

        page.wait(named, 20, f"the live camera never named {native['label']}")
        live = page.state()["live"]
        shown = page.text("#live-result")
        top = live["result"]["predictions"][0]
        expected = top["taxonomy"].get("species") or top["label"]
        assert expected in shown, f"live result shows {shown!r}"
        page.js("document.getElementById('camera-stop').click();")
        page.wait(lambda: not page.state()["live"]["on"], 10, "the camera did not stop")
        return f"{shown!r} after {live['frames']} frames, {top['score']:.3f}, {live['result']['ms']:.0f} ms a frame"

    def run(self):
        started = time.monotonic()
        assert (self.dist / "taxa_wasm_bg.wasm").is_file(), f"{self.dist} has no taxa_wasm_bg.wasm: build it with scripts/web.sh"
        self.site = self.serve_copy()
        self.server = Server(self.site).start()
        print(f"serving {self.dist} on {self.server.url}", flush=True)
        try:
            profile = self.tmp / "profile-1"
            driver = launch(profile)
            self.page = Page(driver, self.server)
            try:
                opened = self.check("page opens with the bird model", self.open_page)
                order = sorted(self.native, key=lambda n: (self.native[n]["model"] != "bird", n))
                checks = [("g installable (manifest, icons, service worker)", self.installable)]
                checks += [(f"a species {name}", functools.partial(self.species, name)) for name in order]
                checks += [
                    ("photo over 16 MP scaled down", self.large_photo),
                    ("EXIF orientation applied", self.exif_orientation),
                    ("b broken photo, then a good one", self.broken_photo),
                    ("d bad bundle keeps the previous model", self.bad_bundle),
                    ("e wasm panic restarts the worker", self.panic),
                    ("camera unavailable message", self.no_camera),
                    ("layout at 360 px, labels, keyboard", self.narrow_layout),
                    ("storage full: own model for this visit only", self.storage_full),
                    ("h chosen model kept", self.model_kept),
                    ("a new build replaces the cache", self.update),
                    ("c offline after the first visit", self.offline),
                ]
                for name, fn in checks:
                    if opened:
                        self.check(name, fn)
                    else:
                        self.skip_failed(name, "not run: the page did not open")
            finally:
                driver.quit()
            # f: a second browser, with a fake camera playing the owl.
            photo, _ = self.owl()
            video = self.tmp / "owl.y4m"
            write_y4m(photo, video)
            driver = launch(self.tmp / "profile-2", [
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ])
            self.page = Page(driver, self.server)
            try:
                self.check("f live camera names the bird", self.camera, self.page)
            finally:
                driver.quit()
        finally:
            self.server.stop()
        return time.monotonic() - started

    def serve_copy(self):
        """The site as served: links to web/dist's files, but its own sw.js and
        build.json, which the update check rewrites as a new build would."""
        site = self.tmp / "site"
        site.mkdir()
        for entry in self.dist.iterdir():
            if entry.name in ("sw.js", "build.json"):
                shutil.copyfile(entry, site / entry.name)
            else:
                (site / entry.name).symlink_to(entry)
        return site

    # a new build: its service worker replaces the cache, and the page says so
    def update(self):
        page = self.page
        old = json.loads((self.site / "build.json").read_text())["build"]
        new = old + "-next"
        caches = page.js_async("const done = arguments[arguments.length - 1]; caches.keys().then(done);")
        assert f"taxa-{old}" in caches, f"caches {caches}"
        sw = (self.site / "sw.js").read_text()
        assert f"taxa-{old}" in sw, "sw.js does not name the build's cache"
        (self.site / "sw.js").write_text(sw.replace(f"taxa-{old}", f"taxa-{new}"))
        (self.site / "build.json").write_text(json.dumps({"build": new}) + "\n")
        page.reload()

        def replaced():
            keys = page.js_async("const done = arguments[arguments.length - 1]; caches.keys().then(done);")
            return keys if keys == [f"taxa-{new}"] else None

        page.wait(replaced, 60, f"the cache was not replaced by taxa-{new}")
        page.wait(lambda: any("new version" in n for n in page.state()["notices"]), 20, "no word of the new version")
        page.reload()
        page.wait(lambda: page.text("#about-build").strip() == new, 20, "About does not show the new build")
        photo, native = self.owl()
        page.choose_model(native["model"])
        expect_species(page, photo, native, page.classify(photo))
        return f"taxa-{old} replaced by taxa-{new}"

    def open_page(self):
        state = self.page.open()
        assert not any("SIMD" in n for n in state["notices"]), state["notices"]
        info = state["model"]["info"]
        about = self.page.text(".about")
        source = info["provenance"].get("extra", {}).get("source")
        if source:
            assert source in about, f"the model's source is not in About: {about!r}"
        return f"{state['model']['name']}: {info['classes']} classes, licence {info['provenance'].get('extra', {}).get('license')}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", default=str(ROOT / "web" / "dist"))
    parser.add_argument("--photos", required=True, help="folder of the photos NATIVE.json names")
    parser.add_argument("--native", required=True, help="JSON: photo name → {model, label, score} from native taxa")
    parser.add_argument("--json-out", help="write the checks' results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (profiles, screenshots)")
    args = parser.parse_args()
    run = Run(args)
    total = None
    try:
        total = run.run()
    except Exception as e:  # the harness itself failed: count it
        run.results.append({"name": "harness", "ok": False, "seconds": 0, "detail": f"{e.__class__.__name__}: {e}"})
        print(f"FAIL harness: {e.__class__.__name__}: {e}", flush=True)
        traceback.print_exc()
    passed = sum(r["ok"] for r in run.results)
    failed = len(run.results) - passed
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "passed": passed, "failed": failed, "seconds": round(total, 1) if total else None, "checks": run.results,
        }, indent=2) + "\n")
    if total is not None:
        print(f"total {total:.1f} s")
    if failed or args.keep:
        print(f"kept {run.tmp}")
    else:
        shutil.rmtree(run.tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not run.results else 0)


if __name__ == "__main__":
    main()
