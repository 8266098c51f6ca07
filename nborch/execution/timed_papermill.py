"""`python -m nborch.execution.timed_papermill ARGS`: papermill's own command line with the
engine `nborch` (see timed_engine), for runs launched ahead of their time. Registered here,
for these runs only, rather than as an entry point that every papermill process would load.
"""

from papermill.cli import papermill
from papermill.engines import papermill_engines

from nborch.execution.timed_engine import TimedEngine

papermill_engines.register("nborch", TimedEngine)

if __name__ == "__main__":
    papermill()
