"""The code location: everything in pipeline/defs/, loaded the way `dg` loads a project's definitions.

pipeline/defs/project.py gives the assets (one step per layer), resources and executor for the raw/ folder in hand;
pipeline/defs/automation.py the publish job, its schedule and sensors. A file `dg scaffold defs` adds there is
loaded with them.
"""

import importlib
import pkgutil
from pathlib import Path

import dagster as dg

import pipeline.defs

# Dagster puts the project folder on sys.path only while it imports this module (the project is not installed
# into the environment), and the defs folder is loaded later: its modules are imported now, while they can be.
for _module in pkgutil.walk_packages(pipeline.defs.__path__, "pipeline.defs."):
    importlib.import_module(_module.name)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
