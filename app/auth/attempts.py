"""The code attempts of one unfinished step (a login, or confirming it's you), counted under the
step's own random id in the rate-limit storage: one atomic hit is taken before each code or
recovery code is checked, so parallel guesses cannot all slip through."""
from flask import current_app
from limits import parse

from app.throttle import Throttled, strategy, take


class CodeAttempts:
    def __init__(self, kind, step_id):
        self.key = (kind, step_id)

    def _spec(self):
        minutes = int(current_app.config["CODE_TTL"].total_seconds() // 60)
        return f"{current_app.config['CODE_ATTEMPTS_PER_LOGIN']}/{minutes} minutes"

    def take(self):
        """One attempt, taken before a code is checked: what to give back if the check turns out
        not to be a guess, or None once no attempt is left."""
        try:
            return take([(self._spec(), self.key)], lambda wait: "")
        except Throttled:
            return None

    def left(self):
        return strategy().get_window_stats(parse(self._spec()), *self.key).remaining
