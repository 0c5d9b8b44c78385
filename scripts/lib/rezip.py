"""Re-compress Lambda zips with the smallest deflate we have, in place.

    python rezip.py [--iterations N] [--jobs N] ZIP...

cargo-lambda writes bootstrap.zip with zlib's default level. Each entry is deflated again with
zopfli (deflate-compatible output, a few per cent smaller; the `zopfli` package from PyPI) when it
is installed, else with zlib level 9, and the zip is replaced only when the result is smaller.
Names, times and permission bits (bootstrap must stay executable) are kept; the new zip is read
back and every entry compared byte for byte with the old one before it replaces it.
Prints one line per zip: old and new size in bytes.
"""

import argparse
import multiprocessing
import os
import sys
import zipfile
import zlib

try:
    import zopfli.zopfli as _zopfli
except ImportError:  # pragma: no cover - the fallback is zlib level 9
    _zopfli = None


class _ZopfliCompressor:
    """What zipfile asks of a compressor (compress, flush), deflating everything at flush."""

    def __init__(self, iterations):
        self.iterations = iterations
        self.chunks = []

    def compress(self, data):
        self.chunks.append(bytes(data))
        return b""

    def flush(self):
        # zopfli writes a zlib stream: 2 bytes of header, the raw deflate, 4 bytes of Adler-32.
        stream = _zopfli.compress(b"".join(self.chunks), numiterations=self.iterations, gzip_mode=0)
        return stream[2:-4]


def rezip(path, iterations):
    tmp = path + ".rezip"
    with zipfile.ZipFile(path) as old:
        entries = [(info, old.read(info)) for info in old.infolist()]
    original = zipfile._get_compressor
    if _zopfli is not None:
        zipfile._get_compressor = lambda kind, level=None: (
            _ZopfliCompressor(iterations) if kind == zipfile.ZIP_DEFLATED else original(kind, level)
        )
    try:
        with zipfile.ZipFile(tmp, "w") as new:
            for info, data in entries:
                copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                copy.external_attr = info.external_attr
                copy.create_system = info.create_system
                copy.compress_type = zipfile.ZIP_DEFLATED
                new.writestr(copy, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    finally:
        zipfile._get_compressor = original
    with zipfile.ZipFile(tmp) as check:
        for info, data in entries:
            if check.read(info.filename) != data or check.getinfo(info.filename).external_attr != info.external_attr:
                os.unlink(tmp)
                raise RuntimeError(f"{path}: {info.filename} does not read back the same; zip left as it was")
    before, after = os.path.getsize(path), os.path.getsize(tmp)
    if after < before:
        os.replace(tmp, path)
    else:
        os.unlink(tmp)
        after = before
    return before, after


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1, help="zopfli iterations (default 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="zips at a time (default: the CPUs)")
    parser.add_argument("zips", nargs="+")
    args = parser.parse_args()
    engine = f"zopfli, {args.iterations} iteration(s)" if _zopfli is not None else "zlib level 9 (zopfli not installed)"
    with multiprocessing.Pool(max(1, min(args.jobs, len(args.zips)))) as pool:
        try:
            results = pool.starmap(rezip, [(path, args.iterations) for path in args.zips])
        except RuntimeError as error:
            sys.exit(f"rezip: {error}")
    for path, (before, after) in zip(args.zips, results):
        print(f"{path}: {before} -> {after} bytes ({engine})")


if __name__ == "__main__":
    main()
