#!/usr/bin/env python3
"""`orch ui` in headless Chromium (selenium), against a store that BrowserUITests prepared.

    ui_check.py URL --live SWEEP --gate PATH --tail SWEEP --tail-gate PATH --curves SWEEP
                --color BINDING --where EXPR --where-rows N --xss SWEEP --xss-key KEY
                --analysis FILE --slurm-job ID --slurm-name NAME

URL is the line `orch ui` printed (with its token). The jobs of --live and --tail wait until their
gate file exists; this script creates it once the page that must see the change is open, so what
it checks never depends on timing. Screenshots of each page go to $ORCH_UI_SCREENSHOTS (none when
unset). Exit 0 when every check passed; otherwise 1 with the failed check, the page's URL and the
start of its text on stderr (and a screenshot `failed.png`).
"""

import argparse
import http.cookiejar
import os
import pathlib
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = os.environ.get("ORCH_UI_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("ORCH_UI_CHROMEDRIVER", "/usr/bin/chromedriver")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class UI:
    def __init__(self, url, shots):
        parts = urllib.parse.urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.login = url
        self.shots = pathlib.Path(shots) if shots else None
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1400,1000", "--hide-scrollbars", "--force-device-scale-factor=1"]:
            options.add_argument(a)
        # An alert stays open so the escaping check can see it, instead of failing the next command.
        options.set_capability("unhandledPromptBehavior", "ignore")
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        self.driver.set_page_load_timeout(60)
        # The same token for plain HTTP checks (status codes the browser does not expose).
        self.http = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.http.open(url, timeout=30).read()

    def get(self, path):
        self.driver.get(self.base + path)

    def status(self, path):
        try:
            with self.http.open(self.base + path, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", "")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=20):
        found = self.wait(f"an element {css}", lambda: self.all(css), timeout)
        return found[0]

    def wait(self, what, condition, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                value = condition()
            except StaleElementReferenceException:  # the page changed under the condition: ask again
                value = None
            if value:
                return value
            if time.time() > deadline:
                raise CheckFailed(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.1)

    def shot(self, name):
        if self.shots:
            # The whole page: the window grows to the document's height first.
            height = self.js("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
            self.driver.set_window_size(1400, max(700, min(int(height) + 40, 4000)))
            self.driver.save_screenshot(str(self.shots / f"{name}.png"))
            self.driver.set_window_size(1400, 1000)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def set_marker(self):
        token = f"kept-{time.time()}"
        self.js("window.__marker = arguments[0]", token)
        return token

    def marker_kept(self, token, what):
        check(self.js("return window.__marker") == token,
              f"{what}: the page was reloaded (window.__marker is gone)")

    def no_script_ran(self, what):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise CheckFailed(f"{what}: an alert fired ({text!r}): user text ran as a script")
        except NoAlertPresentException:
            pass
        check(self.js("return window.__xss === undefined"), f"{what}: injected code ran (window.__xss is set)")
        injected = self.js(
            "return Array.from(document.scripts).filter(s => /alert\\([12]\\)|__xss/.test(s.textContent)).length"
            " + document.querySelectorAll('img[src=\"x\"], [onerror]').length")
        check(injected == 0, f"{what}: {injected} element(s) made from user text (a script, an onerror)")


def progress(ui, sweep):
    return ui.js(
        "const p = document.querySelector(`tr[data-sweep='${arguments[0]}'] progress.sweep-progress`);"
        "return p ? [Number(p.value), Number(p.max)] : null", sweep)


def count(ui, sweep, state):
    return ui.js(
        "const c = document.querySelector(`tr[data-sweep='${arguments[0]}'] .count-${arguments[1]}`);"
        "return c ? c.textContent.trim() : null", sweep, state)


def overview_advances(ui, a):
    """The overview shows each sweep; the live sweep's progress and counts advance without a reload."""
    ui.driver.get(ui.login)  # sets the token's cookie, then redirects
    ui.one("table#sweeps")
    ui.one("div#daemon")
    for sweep in [a.live, a.tail, a.curves, a.xss]:
        check(ui.all(f"tr[data-sweep='{sweep}']"), f"overview: no row for sweep {sweep}")
        link = ui.all(f"tr[data-sweep='{sweep}'] a.sweep-link")
        check(link and urllib.parse.unquote(urllib.parse.urlsplit(link[0].get_attribute("href")).path)
              == f"/sweeps/{sweep}", f"overview: sweep {sweep}'s link is not /sweeps/{sweep}")
    start = progress(ui, a.live)
    check(start is not None, f"overview: no progress.sweep-progress in the row of {a.live}")
    done, total = start
    check(done == 0 and total > 0, f"overview: {a.live} starts at {done}/{total}; its jobs wait for the gate")
    check(count(ui, a.live, "done") == "0", f"overview: .count-done of {a.live} is {count(ui, a.live, 'done')!r}")
    ui.wait(f"a running job of {a.live}", lambda: count(ui, a.live, "running") not in (None, "0"), 60)
    ui.shot("overview")
    token = ui.set_marker()
    pathlib.Path(a.gate).touch()
    ui.wait(f"{a.live}'s progress to advance past 0 without a reload",
            lambda: (progress(ui, a.live) or [0])[0] > 0, 60)
    ui.marker_kept(token, "overview")
    ui.wait(f"{a.live}'s progress to reach {total}/{total}",
            lambda: progress(ui, a.live) == [total, total] and count(ui, a.live, "done") == str(int(total)), 90)
    check(count(ui, a.live, "running") == "0" and count(ui, a.live, "pending") == "0",
          f"overview: {a.live} done but running={count(ui, a.live, 'running')!r} pending={count(ui, a.live, 'pending')!r}")
    ui.marker_kept(token, "overview")
    print(f"ok: overview: {a.live} went 0/{total:g} -> {total:g}/{total:g} without a reload")


def job_rows(ui):
    return [r.get_attribute("data-job") for r in ui.all("table#runs tr[data-job]")]


def log_follows(ui, a):
    """A running job's page shows its log, and lines it writes later appear without a reload."""
    ui.get(f"/sweeps/{urllib.parse.quote(a.tail)}")
    ui.one("table#runs")
    rows = job_rows(ui)
    check(len(rows) == 1, f"sweep {a.tail}: {len(rows)} rows, expected 1")
    job = rows[0]

    def running():
        ui.get(f"/jobs/{job}")
        ui.one("pre#log")
        return "waiting for the gate" in ui.one("pre#log").text

    ui.wait(f"job {job} to run and log its first line", running, 120)
    for table in ["bindings", "attempts", "artifacts", "metrics"]:
        check(ui.all(f"table#{table}"), f"job {job}: no table#{table}")
    token = ui.set_marker()
    pathlib.Path(a.tail_gate).touch()
    ui.wait(f"job {job}'s log to show the line written after the gate",
            lambda: "through the gate" in ui.one("pre#log").text, 30)
    ui.marker_kept(token, f"job {job}")
    ui.wait(f"job {job}'s state to reach COMPLETED on its page",
            lambda: "COMPLETED" in ui.text(), 30)
    ui.marker_kept(token, f"job {job}")

    def attempt_ended():
        cells = [c.text.strip() for c in ui.all("table#attempts tbody tr:last-child td")]
        return len(cells) == 10 and cells[1] == "COMPLETED" and cells[2] == "0" and cells[9] != ""

    ui.wait(f"job {job}'s attempts row to show COMPLETED, exit code 0 and an end time", attempt_ended, 30)
    ui.marker_kept(token, f"job {job}")
    ui.shot("job-log")
    print(f"ok: job {job}: log followed while running, without a reload")


def sweep_filter(ui, a):
    """The sweep page lists every job; a --where filter narrows the rows."""
    ui.get(f"/sweeps/{urllib.parse.quote(a.curves)}")
    ui.one("table#runs")
    before = job_rows(ui)
    check(len(before) > a.where_rows, f"sweep {a.curves}: {len(before)} rows before the filter")
    states = [c.text.strip() for c in ui.all("table#runs tr[data-job] td.state")]
    check(states == ["COMPLETED"] * len(before), f"sweep {a.curves}: states {states}")
    ui.shot("sweep")
    where = ui.one("form#filter input[name=where]")
    where.clear()
    where.send_keys(a.where)
    where.send_keys(Keys.ENTER)
    ui.wait(f"{a.where_rows} rows after --where {a.where!r}",
            lambda: ui.all("table#runs") and len(job_rows(ui)) == a.where_rows, 20)
    after = job_rows(ui)
    check(set(after) < set(before), f"sweep {a.curves}: filtered rows {after} are not a subset of {before}")
    ui.shot("sweep-filtered")
    print(f"ok: sweep {a.curves}: {len(before)} rows, {len(after)} with --where {a.where!r}")
    # A malformed expression is a message on the page, not a server error.
    status, _ = ui.status(f"/sweeps/{urllib.parse.quote(a.curves)}?where=" + urllib.parse.quote("(((") )
    check(status < 500, f"sweep {a.curves}: a malformed --where gave HTTP {status}")


def curves(ui, a):
    """Selecting rows and comparing opens their curves: one path.curve per selected job."""
    ui.get(f"/sweeps/{urllib.parse.quote(a.curves)}")
    boxes = ui.all("table#runs tr[data-job] input.select[type=checkbox]")
    check(len(boxes) >= 3, f"sweep {a.curves}: {len(boxes)} selection checkboxes")
    chosen = [boxes[i] for i in (0, 1, len(boxes) - 1)]
    selected = []
    for box in chosen:
        ui.js("arguments[0].scrollIntoView({block: 'center'})", box)
        box.click()
        selected.append(box.get_attribute("value"))
    compare = ui.one("#compare-curves")
    ui.js("arguments[0].scrollIntoView({block: 'center'})", compare)
    compare.click()
    ui.one("svg#curves", 30)

    def drawn():
        return sorted(p.get_attribute("data-job") for p in ui.all("svg#curves path.curve"))

    ui.wait(f"one path.curve for each of {selected}", lambda: drawn() == sorted(selected), 20)
    print(f"ok: curves of {selected}: one path each")
    # The same jobs coloured by a binding, through the URL.
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ui.driver.current_url).query))
    query.update({"jobs": ",".join(selected), "color": a.color})
    ui.get(f"/sweeps/{urllib.parse.quote(a.curves)}/curves?" + urllib.parse.urlencode(query))
    ui.one("svg#curves")
    check(drawn() == sorted(selected), f"curves coloured by {a.color}: paths for {drawn()}, expected {sorted(selected)}")
    strokes = {p.get_attribute("stroke") for p in ui.all("svg#curves path.curve")}
    swatches = [ui.js("return getComputedStyle(arguments[0]).fill;", r) for r in ui.all("#legend svg.swatch rect")]
    check(len(swatches) == len(strokes) and all(s.startswith("rgb(") for s in swatches),
          f"curves coloured by {a.color}: legend swatches {swatches} for the colours {sorted(strokes)}")
    ui.shot("curves")
    # Every job's page: bindings, attempts, the log, metrics (the first selected one for the picture).
    ui.get(f"/jobs/{selected[0]}")
    for table in ["bindings", "attempts", "artifacts", "metrics"]:
        ui.one(f"table#{table}")
    ui.one("pre#log")
    check(len(ui.all("table#metrics tr")) > 1, f"job {selected[0]}: its metrics table is empty")
    page_width, window_width = ui.js("return [document.documentElement.scrollWidth, window.innerWidth];")
    check(page_width <= window_width,
          f"job {selected[0]}: the page is {page_width}px wide in a {window_width}px window (a table runs off it)")
    ui.shot("job")


def escaping(ui, a):
    """A key, a binding and a log line holding HTML are shown as text on every page."""
    ui.get("/")
    ui.one("table#sweeps")
    ui.no_script_ran("overview")
    ui.get(f"/sweeps/{urllib.parse.quote(a.xss)}")
    ui.one("table#runs")
    ui.no_script_ran(f"sweep {a.xss}")
    rows = job_rows(ui)
    check(len(rows) == 1, f"sweep {a.xss}: {len(rows)} rows")
    ui.get(f"/jobs/{rows[0]}")
    ui.one("table#bindings")
    ui.wait(f"job {rows[0]}'s log", lambda: "in the log" in ui.one("pre#log").text, 20)
    text = ui.text()
    for shown in [a.xss_key, "<img src=x onerror=window.__xss=1>", "<script>alert(2)</script> in the log"]:
        check(shown in text, f"job {rows[0]}: the text {shown!r} is not shown as text")
    ui.no_script_ran(f"job {rows[0]}")
    ui.shot("escaping")
    print(f"ok: {a.xss_key!r}, its binding and its log line are shown as text; no script ran")


def other_pages(ui, a):
    """Analyses and SLURM views load (HTTP 200, HTML) and show their table."""
    for path in ["/", f"/sweeps/{urllib.parse.quote(a.curves)}", f"/sweeps/{urllib.parse.quote(a.curves)}/analyses",
                 "/slurm"]:
        status, kind = ui.status(path)
        check(status == 200 and kind.startswith("text/html"), f"{path}: HTTP {status} {kind}")
    ui.get(f"/sweeps/{urllib.parse.quote(a.curves)}/analyses")
    ui.wait(f"the analyses page to show {a.analysis}", lambda: a.analysis in ui.text(), 20)
    check(ui.all("img, svg, object"), f"analyses: {a.analysis} is named but not shown")
    ui.no_script_ran("analyses")
    ui.shot("analyses")
    ui.get("/slurm")
    ui.one("table#slurm")
    table = ui.one("table#slurm").text
    check(a.slurm_job in table and a.slurm_name in table, f"/slurm: sbatch job {a.slurm_job} ({a.slurm_name}) is not listed")
    ui.shot("slurm")
    print("ok: analyses and slurm pages")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--live", required=True)
    p.add_argument("--gate", required=True)
    p.add_argument("--tail", required=True)
    p.add_argument("--tail-gate", required=True)
    p.add_argument("--curves", required=True)
    p.add_argument("--color", required=True)
    p.add_argument("--where", required=True)
    p.add_argument("--where-rows", type=int, required=True)
    p.add_argument("--xss", required=True)
    p.add_argument("--xss-key", required=True)
    p.add_argument("--analysis", required=True, help="a plot in $ORCH_HOME/analysis for --curves")
    p.add_argument("--slurm-job", required=True, help="the id `orch sbatch` printed")
    p.add_argument("--slurm-name", required=True, help="its --job-name")
    a = p.parse_args()
    ui = UI(a.url, os.environ.get("ORCH_UI_SCREENSHOTS"))
    try:
        for step in [overview_advances, log_follows, sweep_filter, curves, escaping, other_pages]:
            step(ui, a)
    except Exception as e:
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        try:
            print(f"at {ui.driver.current_url}; page text:\n{ui.text()[:3000]}", file=sys.stderr)
            if ui.shots:
                ui.driver.save_screenshot(str(ui.shots / "failed.png"))
        except Exception as inner:
            print(f"(no page: {inner})", file=sys.stderr)
        return 1
    finally:
        ui.driver.quit()
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
