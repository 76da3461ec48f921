"""Entry point: `flask --app main run`, `gunicorn -c gunicorn.conf.py main:app`."""
import sys

from app import create_app

# gunicorn's "App failed to load": its master stops. A plain SystemExit (status 1) would have it
# start the worker again, and again, forever: a crash loop that looks like a running service.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except SystemExit as refused:
    if not isinstance(refused.code, str):
        raise
    print(refused.code, file=sys.stderr)  # the sentence that names the setting to fix
    raise SystemExit(APP_LOAD_ERROR) from None
