"""The validated scenario: the resolved document, where each value was written, its files.

:class:`Scenario` is what :func:`sim.scenario.validate.validate_scenario` returns and what
the engine builds from; its methods locate a key in the files (for errors that name the
file and line) and resolve data-file paths inside the allowed folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.files import what_is
from sim.scenario.load import LoadedDocument, get_origin


@dataclass
class Scenario:
    """A validated scenario with defaults filled in.

    Attributes
    ----------
    data : dict
        The resolved document (``extends:`` merged, defaults filled).
    origins : dict
        Key path -> (file, line) of every value written by the user.
    files : list of str
        The YAML files read, base first.
    path : Path or None
        The scenario file (the last in an ``extends`` chain), if loaded from a file.
    data_root : Path
        Folder tree that data files must lie in.
    """

    data: dict[str, Any]
    origins: dict[str, tuple[str, int]]
    files: list[str]
    path: Path | None
    data_root: Path
    extra_roots: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.data["metadata"]["name"])

    @property
    def region_ids(self) -> list[str]:
        return [r["id"] for r in self.data["regions"]]

    @property
    def sector_ids(self) -> list[str]:
        return [s["id"] for s in self.data["sectors"]]

    def where(self, key: str) -> tuple[str | None, int | None]:
        """File and line where ``key`` (or its nearest written ancestor) was written."""
        return get_origin(
            LoadedDocument(data=self.data, origins=self.origins, files=self.files), key
        )

    def error(self, problem: str, key: str, value: Any = None, **kwargs: Any) -> ScenarioError:
        """Build a ScenarioError located at ``key`` (or at least in the scenario's file)."""
        file, line = self.where(key)
        if file is None and self.files:
            file = self.files[-1]
        # Line 0: a value not written in a file (a dict given to sim.run, a command-line override).
        return ScenarioError(problem, file=file, line=line or None, key=key, value=value, **kwargs)

    def resolve_file(self, key: str, value: str, *, folder: bool = False) -> Path:
        """Resolve a data-file path relative to the file that wrote ``key``, inside allowed roots."""
        file, _ = self.where(key)
        base = Path(file).parent if file and not file.startswith("<") else self.data_root
        target = (base / value).resolve()
        roots = [self.data_root.resolve(), *(r.resolve() for r in self.extra_roots)]
        from_dict = not file or file.startswith("<")
        dict_hint = (
            f"paths in a scenario given as a dict are relative to base_dir ({self.data_root}): "
            "pass base_dir= (the folder of the data files) to sim.run or sim.load_scenario"
        )
        if not any(target == root or root in target.parents for root in roots):
            hint = "move the file next to the scenario, or allow its folder with --data-root"
            # As written (links not followed), is the path in the tree? Then a symbolic
            # link on it is what leads outside.
            written = Path(os.path.normpath((base / value).absolute()))
            link = None
            for part in [written, *written.parents]:
                if part == base.absolute() or part in base.absolute().parents:
                    break
                if part.is_symlink():
                    link = part
                    break
            if link is not None:
                # The path is in the tree as written; a symbolic link on it leads outside.
                hint = (
                    f"{link} is a symbolic link to {link.resolve()}, outside the allowed "
                    f"folders: the link's target is the problem; allow it with --data-root "
                    f"{target.parent}, or copy the data into the scenario's folder"
                )
            if from_dict:
                hint = dict_hint
            elif (
                file
                and not file.startswith("<")
                and Path(file).resolve() != (self.path.resolve() if self.path else None)
            ):
                # Written in an extends base: its folder is not opened by being extended.
                hint = (
                    f"the path is written in {file}, a base this scenario extends; its folder "
                    f"is not an allowed data folder by itself: allow it with --data-root "
                    f"{Path(file).resolve().parent}, or move the data next to the scenario"
                )
            raise self.error(
                "data file lies outside the scenario's folder tree",
                key,
                value,
                allowed="files under " + " or ".join(str(r) for r in dict.fromkeys(roots)),
                hint=hint,
            )
        if not (target.is_dir() if folder else target.is_file()):
            kind = what_is(target)
            wanted = "folder" if folder else "file"
            missing = kind.startswith("not found")
            raise self.error(
                f"data {wanted} not found: {target}"
                if kind == "not found"
                else f"data {wanted} {target} is {kind}",
                key,
                value,
                allowed=f"an existing {'folder' if folder else 'regular file'}, relative to "
                + ("base_dir" if from_dict else "the scenario file's folder"),
                hint=(dict_hint if from_dict else "check the spelling and the folder of the path")
                if missing
                else f"point {key} at {'a folder' if folder else 'a regular file'} "
                f"({target.name} is {kind})",
            )
        return target
