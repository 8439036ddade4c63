#!/usr/bin/env python3
"""Prints a free TCP port on 127.0.0.1: the preferred one (argv[1]) if it is free, else any."""
import socket
import sys


def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()


want = int(sys.argv[1]) if len(sys.argv) > 1 else 0
print(free(want) or free(0))
