"""Write ``docs/scenarios.md`` from the schema: ``python -m sim.scenario.docs [PATH]``."""

from __future__ import annotations

import sys
from pathlib import Path

from sim.scenario.schema import render_schema_markdown


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path("docs/scenarios.md")
    target.write_text(render_schema_markdown(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
