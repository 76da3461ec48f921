"""`make bench`: the app under gunicorn against a bare Flask baseline, with the fake Twilio Verify."""
