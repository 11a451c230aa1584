"""What makes a version a release: whether data changed and its version (versions.py), the row-level diff and
the gate that stops lost data (gate.py), the citable archive (archive.py) and the object-store mirror (mirror.py)."""
