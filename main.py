"""Entry point: `flask --app main run`, `gunicorn -c gunicorn.conf.py main:app`."""
from app import create_app

app = create_app()
