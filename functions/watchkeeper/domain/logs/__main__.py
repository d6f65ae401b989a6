"""python -m watchkeeper.domain.logs FILE [--jsonl]"""
import sys

from .cli import logs_cluster


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    jsonl = "--jsonl" in args
    files = [a for a in args if a != "--jsonl"]
    if len(files) != 1:
        sys.stderr.write("usage: python -m watchkeeper.domain.logs FILE [--jsonl]\n")
        return 2
    try:
        logs_cluster(files[0], jsonl)
    except BrokenPipeError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
