"""The Flask class of this app: Jinja templates see the environment's globals in a plain dict.

Jinja gives every template a ChainMap of its own globals over the environment's, so that a
template can never change the environment's. Every global a page looks up (url_for, control,
csrf_token...), every render's context and every `{% from ... import %}` then goes through
ChainMap's Python code: about 7 % of the login page. Here a template takes a copy of the
globals when it is loaded instead. All of them are registered while the app is created, before
the first template is loaded (Flask refuses setup after the first request);
tests/test_templating.py checks that each one reaches a page.
"""
from flask import Flask
from flask.templating import Environment


class PlainGlobalsEnvironment(Environment):
    def make_globals(self, d):
        return {**self.globals, **(d or {})}


class App(Flask):
    jinja_environment = PlainGlobalsEnvironment
