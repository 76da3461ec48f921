"""Lighthouse's four scores for the login, code and profile pages, in English and in Arabic.

This app runs under gunicorn with the production settings (bench/harness.py). One of the
bench's people logs in over HTTP: first the password, which gives the code page, then the code,
which gives the profile. Lighthouse (Node, run by `npx`, with Debian's Chromium) then loads each
page with that browser's cookies. The page's language comes from the language menu's cookie. The
run uses Lighthouse's defaults: a phone-sized screen on a throttled network and CPU, with four
categories: performance, accessibility, best practices and SEO.

Only `--only lighthouse` runs it, since it needs Node and Lighthouse (which npx fetches from npm
the first time).
"""
import json
import os
import shutil
import subprocess

from bench import people
from bench.harness import Target, log

LIGHTHOUSE = os.environ.get("LIGHTHOUSE_PACKAGE", "lighthouse@12.8.2")
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
LANGUAGES = ("en", "ar")
PAGES = ("login", "code", "profile")
LOCALE_COOKIE = "__Host-locale"  # production's name for the language menu's cookie (config.py)
# Lighthouse's phone, named to the app by the person logging in too: a session that moves to
# another browser is ended (app/__init__.py, end_expired_or_moved_sessions).
USER_AGENT = ("Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/136.0.0.0 Mobile Safari/537.36")


def measure(run):
    if not shutil.which("npx") or not os.path.exists(CHROMIUM):
        raise RuntimeError("Lighthouse needs Node's npx and Chromium (Debian: apt-get install nodejs npm chromium)")
    result = {"package": LIGHTHOUSE, "pages": {}}
    with run.gunicorn("app", "main:app") as server:
        for tag, person in zip(LANGUAGES, run.people):
            for page, cookies in pages_of(server.url, person, run.fake, tag):
                log(f"lighthouse: {page} page in {tag}")
                result["pages"][f"{page} ({tag})"] = audit(run, server.url + PATHS[page], cookies, f"{page}-{tag}")
    return result


PATHS = {"login": "/auth/login", "code": "/auth/verify", "profile": "/profile"}


def pages_of(base, person, fake, tag):
    """(page, the cookies that show it) for the login page, then the code page, then the profile."""
    browser = people.Browser(base)
    browser.headers["User-Agent"] = USER_AGENT
    browser.cookies.set(LOCALE_COOKIE, tag)
    yield "login", {LOCALE_COOKIE: tag}
    login = browser.go("GET", "/auth/login", 200)
    browser.form("/auth/login", login, {"username": person["username"], "password": people.PASSWORD, "next": ""},
                 302, "/auth/verify")
    yield "code", dict(browser.cookies)
    page = browser.go("GET", "/auth/verify", 200)
    browser.form("/auth/verify", page, {"code": fake.last_code(person["phone"])}, 302, "/profile")
    yield "profile", dict(browser.cookies)


def audit(run, url, cookies, name):
    """The four scores (0-100) of one page, and the audits that kept any below 100."""
    report = run.tmp / f"lighthouse-{name}.json"
    headers = run.tmp / f"lighthouse-{name}-headers.json"
    headers.write_text(json.dumps({"Cookie": "; ".join(f"{key}={value}" for key, value in cookies.items())}))
    command = ["npx", "--yes", LIGHTHOUSE, url, "--quiet", "--output=json", f"--output-path={report}",
               f"--only-categories={','.join(CATEGORIES)}", f"--extra-headers={headers}",
               f"--emulated-user-agent={USER_AGENT}",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CHROME_PATH": CHROMIUM})
    if done.returncode or not report.exists():
        raise RuntimeError(f"lighthouse failed on {url}: {done.stderr.strip()[-2000:]}")
    found = json.loads(report.read_text())
    if found["finalDisplayedUrl"] != url:  # e.g. sent to the login page: not the page meant
        raise RuntimeError(f"lighthouse asked for {url} and was sent to {found['finalDisplayedUrl']}")
    return scores_of(found)


def scores_of(found):
    """From Lighthouse's JSON report: each category's score out of 100, and the audits that count
    in it (a weight) and did not pass in full."""
    scores = {key: round(100 * found["categories"][key]["score"]) for key in CATEGORIES}
    short = {key: [ref["id"] for ref in found["categories"][key]["auditRefs"]
                   if ref.get("weight") and (found["audits"][ref["id"]].get("score") or 0) < 1
                   and found["audits"][ref["id"]].get("scoreDisplayMode") in ("binary", "numeric")]
             for key in CATEGORIES}
    return {"url": found["finalDisplayedUrl"], "scores": scores, "short": short}


def targets(result):
    return [Target(f"Lighthouse, {page}: performance / accessibility / best practices / SEO",
                   " / ".join(str(found["scores"][key]) for key in CATEGORIES), "100 / 100 / 100 / 100",
                   all(found["scores"][key] == 100 for key in CATEGORIES))
            for page, found in result["pages"].items()]


def section(result):
    lines = [
        "### Lighthouse: the login, code and profile pages in English and in Arabic",
        "",
        f"`npx {result['package']}` with Debian's Chromium at its defaults (a phone on a throttled "
        "network and CPU), against this app under gunicorn with production settings. The code and "
        "profile pages are opened with the cookies of a person logging in.",
        "",
        "| Page | Performance | Accessibility | Best practices | SEO | Below 100 because of |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for page, found in result["pages"].items():
        why = ", ".join(f"{audit} ({key})" for key in CATEGORIES for audit in found["short"][key]) or "–"
        lines.append(f"| {page} | " + " | ".join(str(found["scores"][key]) for key in CATEGORIES) + f" | {why} |")
    return lines
