"""The Flask class of this app: two answers Flask works out on every request, kept instead.

- Jinja gives every template a ChainMap of its own globals over the environment's, so that a
  template can never change the environment's. Every global a page looks up (url_for, control,
  csrf_token...), every render's context and every `{% from ... import %}` then goes through
  ChainMap's Python code: about 7 % of the login page. Here a template takes a copy of the
  globals when it is loaded instead. All of them are registered while the app is created, before
  the first template is loaded (Flask refuses setup after the first request);
  tests/test_flask_app.py checks that each one reaches a page.
- Flask asks `inspect.iscoroutinefunction` about every hook and view of every request (about 20
  for a page: 3 % of the login page), and a function's answer never changes. It is kept per
  function registered on the app (its views and request hooks, a fixed set); anything else (a
  function made for one request, such as `after_this_request`'s) is asked about each time, so
  nothing accumulates.
"""
from flask import Flask
from flask.templating import Environment


class PlainGlobalsEnvironment(Environment):
    def make_globals(self, d):
        return {**self.globals, **(d or {})}


class App(Flask):
    jinja_environment = PlainGlobalsEnvironment

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_versions = {}

    def ensure_sync(self, func):
        try:
            return self._sync_versions[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: asked about each time
            return super().ensure_sync(func)
        result = super().ensure_sync(func)
        if self._is_registered(func):
            self._sync_versions[func] = result
        return result

    def _is_registered(self, func):
        by_blueprint = (self.before_request_funcs, self.after_request_funcs, self.teardown_request_funcs,
                        self.url_value_preprocessors)
        return (func in self.view_functions.values() or func in self.teardown_appcontext_funcs
                or any(func in funcs for registry in by_blueprint for funcs in registry.values()))
