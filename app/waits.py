"""How long to wait, written the way a person reads it."""
import math


def wait_in_words(seconds):
    """`45 seconds` up to 90 seconds, then whole minutes (rounded up), then hours past 90 minutes."""
    seconds = max(1, math.ceil(seconds))
    if seconds <= 90:
        count, unit = seconds, "second"
    elif seconds <= 90 * 60:
        count, unit = math.ceil(seconds / 60), "minute"
    else:
        count, unit = math.ceil(seconds / 3600), "hour"
    return f"{count} {unit}{'' if count == 1 else 's'}"
