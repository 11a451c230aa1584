"""Loaded by every Python process started with this folder on PYTHONPATH (tests/test_no_network.py): a connection
to anything but this machine is refused and written to SV_NETWORK_LOG, so a build that tried one is seen even if
the refusal was caught."""

import os
import socket
import sys

LOOPBACK = ("127.", "::1", "localhost")


def _refuse_remote(event: str, args: tuple) -> None:
    if event != "socket.connect":
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # a Unix socket stays on this machine
    host = str(address[0])
    if host.startswith(LOOPBACK):
        return
    log = os.environ.get("SV_NETWORK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {sys.argv[:3]} connect {address}\n")
    raise ConnectionRefusedError(f"network connection to {address} refused: builds and tests stay offline")


sys.addaudithook(_refuse_remote)
