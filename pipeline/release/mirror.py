"""A copy of the published package in object storage, for deployments where readers do not share our disk.

outputs/ is swapped atomically on one file system; object stores have no directory rename. So each version is
uploaded under its own prefix, `<url>/v/<version>/`, and only when every file is there is one small pointer,
`<url>/latest.json`, rewritten to name it. A run that fails or is killed while uploading never changes what
`latest.json` points to; readers who follow the pointer see one whole version. A run that starts without a
package (a fresh pod) first restores the version latest.json names, so versions and the changelog carry on.

Each version's static site (pipeline/publish/site.py) is uploaded with it under `v/<version>/site/`, so that the
mirror can be served to readers as it is; a restore brings back the package only.

The address is an fsspec URL in SV_PUBLISH_URL: `file:///srv/packages` (tested), `s3://bucket/serious-violence`
or `gcs://bucket/serious-violence` with `s3fs` or `gcsfs` installed and the cloud's usual credentials.
"""

import hashlib
import json
import posixpath
import shutil
import tempfile
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline.publish.site import build_site
from pipeline.release.archive import files_under

POINTER = "latest.json"
SITE = "site/"


class MirrorError(RuntimeError):
    pass


def _pointer(fs, root: str) -> dict | None:
    path = posixpath.join(root, POINTER)
    return json.loads(fs.cat_file(path)) if fs.exists(path) else None


def mirror(outputs: Path, url: str, version: str, *, with_site: bool = True) -> dict:
    """Upload the package in `outputs` (and, `with_site`, its static site under site/) under v/<version>/ and then
    point latest.json at it. Nothing is uploaded when latest.json already names this version with these files.
    Returns the pointer written (or found)."""
    files = files_under(outputs)
    if with_site:
        with tempfile.TemporaryDirectory() as folder:
            build_site(outputs, Path(folder) / "site")
            files |= files_under(Path(folder) / "site", SITE)
    pointer = {
        "version": version,
        "prefix": f"v/{version}/",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    fs, root = fsspec.core.url_to_fs(url)
    if _pointer(fs, root) == pointer:
        return pointer
    prefix = posixpath.join(root, "v", version)
    for name, data in files.items():
        target = posixpath.join(prefix, name)
        try:
            fs.makedirs(posixpath.dirname(target), exist_ok=True)
            fs.pipe_file(target, data)
        except OSError as error:
            raise MirrorError(
                f"uploading {name} to {url}/v/{version}/ failed ({error}); latest.json unchanged"
            ) from error
    uploaded = {posixpath.relpath(path, prefix): info["size"] for path, info in fs.find(prefix, detail=True).items()}
    missing = [name for name, data in files.items() if uploaded.get(name) != len(data)]
    if missing:
        raise MirrorError(f"{url}/v/{version}/ does not hold {', '.join(missing)} as uploaded; latest.json unchanged")
    write_pointer(fs, posixpath.join(root, POINTER), json.dumps(pointer, indent=2, sort_keys=True).encode() + b"\n")
    return pointer


def write_pointer(fs, path: str, data: bytes) -> None:
    """An object store replaces an object whole; a local file system needs a write aside and a rename."""
    if isinstance(fs, LocalFileSystem):
        aside = path + ".part"
        fs.pipe_file(aside, data)
        fs.mv(aside, path)
    else:
        fs.pipe_file(path, data)


def restore(outputs: Path, url: str) -> str | None:
    """On a machine that starts empty (a run pod), the version latest.json names, put in `outputs` so that the
    next version is decided and its changelog written against it. Each file's sha256 is checked against the
    pointer. Does nothing when `outputs` holds a package or nothing is mirrored yet; returns the version."""
    if (outputs / "datapackage.json").is_file():
        return None
    fs, root = fsspec.core.url_to_fs(url)
    pointer = _pointer(fs, root)
    if pointer is None:
        return None
    # Named like a staging folder, so that one left by a killed run is removed by the next (publish.py).
    arriving = outputs.with_name(f".{outputs.name}.staging-restore")
    shutil.rmtree(arriving, ignore_errors=True)
    try:
        for name, digest in pointer["files"].items():
            if name.startswith(SITE):
                continue  # built from the package, not part of it
            data = fs.cat_file(posixpath.join(root, pointer["prefix"], name))
            if hashlib.sha256(data).hexdigest() != digest:
                raise MirrorError(f"{url}/{pointer['prefix']}{name} does not match its sha256 in latest.json")
            target = arriving / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except BaseException:
        shutil.rmtree(arriving, ignore_errors=True)
        raise
    if outputs.exists():
        outputs.rmdir()  # empty: a package would have been kept above
    arriving.rename(outputs)
    return pointer["version"]
