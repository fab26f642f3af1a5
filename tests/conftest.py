import os

from hypothesis import settings

# CI runs the same examples every time; locally hypothesis explores afresh.
# HYPOTHESIS_PROFILE=fuzz runs many more examples (the reliability fuzz suite).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.register_profile("fuzz", deadline=None, max_examples=1000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)
