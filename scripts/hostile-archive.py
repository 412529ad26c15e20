#!/usr/bin/env python3
"""Writes the hostile repository archives of issue 9 (bug 1) as GitLab would serve them, for
scripts/bench-serve-memory.sh. Streams the tar through gzip, so a 400 MiB name costs this
script no memory.

    scripts/hostile-archive.py long-name OUT.tar.gz [MIB=400]
        a demo-like tree (one Environment) plus a GNU long-name record of MIB MiB naming a file
        outside the layout folders
    scripts/hostile-archive.py yaml OUT.tar.gz [FILES=480]
        FILES resource files of 1 MiB each under runtimes/: a DeploymentRuntime whose
        description is a 1 MiB block scalar (compresses to about 40 KB a file)
    scripts/hostile-archive.py yaml-dense OUT.tar.gz [FILES=480]
        the same with a map of about 60,000 short labels instead: as many YAML nodes as
        1 MiB holds, the most memory per byte for the parser
"""

import gzip
import sys

TOP = "default-project-x-x"
BLOCK = 512


def header(name: bytes, size: int, kind: bytes) -> bytes:
    """A GNU tar header block (name truncated to 100 bytes, as the long-name record's entry)."""
    h = bytearray(BLOCK)
    h[0:100] = name[:100].ljust(100, b"\0")
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 0
    h[148:156] = b" " * 8
    h[156:157] = kind
    h[257:265] = b"ustar  \0"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(out, size: int) -> None:
    out.write(b"\0" * ((BLOCK - size % BLOCK) % BLOCK))


def regular(out, path: str, data: bytes) -> None:
    out.write(header(path.encode(), len(data), b"0"))
    out.write(data)
    pad(out, len(data))


ENV = b"""apiVersion: nautes.resource.nautes.io/v1alpha1
kind: Environment
metadata:
  name: env-dev
spec:
  cluster: cluster-dev
  envType: development
  product: product-7
"""


def runtime(i: int, size: int, dense: bool = False) -> bytes:
    head = (
        "apiVersion: nautes.resource.nautes.io/v1alpha1\n"
        "kind: DeploymentRuntime\n"
        f"metadata:\n  name: dr-{i}\n"
        "spec:\n  product: product-7\n  projectsRef: [p]\n"
        "  destination:\n    environment: env-dev\n    namespaces: [ns]\n"
        "  manifestSource:\n    codeRepo: repo-1\n    path: deploy\n    targetRevision: main\n"
        + ("  labels:\n" if dense else "  description: |\n")
    ).encode()
    line = b"    k%08d: v\n" if dense else b"    lorem ipsum dolor sit amet, consectetur adipiscing elit %08d\n"
    body = bytearray(head)
    n = 0
    while len(body) < size:
        body += line % n
        n += 1
    # Cut at a line end, so the file stays valid YAML.
    return bytes(body[: body.rindex(b"\n", 0, size) + 1])


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] not in ("long-name", "yaml", "yaml-dense"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, out_path = sys.argv[1], sys.argv[2]
    with gzip.open(out_path, "wb", compresslevel=6) as out:
        regular(out, f"{TOP}/envs/env-dev.yaml", ENV)
        if kind == "long-name":
            mib = int(sys.argv[3]) if len(sys.argv) > 3 else 400
            size = mib << 20
            # The record holds the name, NUL-terminated.
            out.write(header(b"././@LongLink", size, b"L"))
            prefix = f"{TOP}/docs/".encode()
            out.write(prefix)
            chunk = b"n" * (1 << 20)
            left = size - len(prefix) - 1
            while left > 0:
                out.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
            out.write(b"\0")
            pad(out, size)
            regular(out, f"{TOP}/docs/x", b"x\n")
        else:
            files = int(sys.argv[3]) if len(sys.argv) > 3 else 480
            for i in range(files):
                data = runtime(i, 1 << 20, kind == "yaml-dense")
                regular(out, f"{TOP}/runtimes/dr-{i:04}.yaml", data)
        out.write(b"\0" * (2 * BLOCK))
    return 0


if __name__ == "__main__":
    sys.exit(main())
