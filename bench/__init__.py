"""`make bench`: this app under its production server, measured figure by figure (see bench/run.py)."""
