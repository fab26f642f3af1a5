import os

from hypothesis import settings

# CI runs the same examples every time; locally hypothesis explores afresh.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
