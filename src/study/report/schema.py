"""The README's results schema, generated from the code that writes the columns (``core/schema.py`` and each
tracker's declared fields): ``python -m study.report.schema`` prints it, ``--write`` puts it between the README's
schema markers, and a test checks they agree."""

from __future__ import annotations

import sys

from study.core import paths
from study.core.fsutil import write_text_atomic
from study.core.schema import schema_markdown
from study.measure.trackers import latency_columns

MARKER_START = "<!-- schema:start (python -m study.report.schema --write) -->\n"
MARKER_END = "<!-- schema:end -->"


def markdown() -> str:
    return schema_markdown(latency_columns())


def write_readme() -> None:
    path = paths.root() / "README.md"
    text = path.read_text(encoding="utf-8")
    current = text.split(MARKER_START, 1)[1].split(MARKER_END, 1)[0]
    write_text_atomic(path, text.replace(MARKER_START + current + MARKER_END, MARKER_START + markdown() + MARKER_END))


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write_readme()
    else:
        print(markdown(), end="")
