"""Running it: `make data` (build.py), the served stack (serve.py) and where a build reads and writes (locations.py)."""
