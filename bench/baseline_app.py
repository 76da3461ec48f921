"""The floor the app is measured against: a bare Flask app that serves the login page's HTML.

The HTML is the app's own rendered /auth/login page, saved by the bench to the file named in
BENCH_BASELINE_HTML; no session, no CSRF, no database, no security headers.
"""
import os
from pathlib import Path

from flask import Flask

HTML = Path(os.environ["BENCH_BASELINE_HTML"]).read_text(encoding="utf-8")

app = Flask(__name__)


@app.get("/auth/login")
def login():
    return HTML
