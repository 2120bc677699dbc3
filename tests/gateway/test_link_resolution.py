"""Symbolic links resolved by the kernel in one lookup (core/authz/protected.py)
give the same answers as `os.path.realpath`, afresh on every call; protected
paths looked up by ancestor give the same answers as comparing every entry.

The scope check resolves a request's directory and file on every request; the
kernel now does that walk (`open(O_PATH)` + `/proc/self/fd`), and a file is
looked up from its directory's descriptor. Whatever the links - relative,
absolute, chained, dangling, looping, through a file, missing - the answer must
be `os.path.realpath`'s, and a link changed between two calls must be seen by
the second (nothing remembered).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.authz import protected
from core.authz.protected import FileFamily, Protected, real, real_below
from core.model.directories import within


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "dir" / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    (root / "dir" / "file.txt").write_text("f")
    (root / "dir" / "sub" / "deep.txt").write_text("d")
    (root / "rel-out").symlink_to("../outside")
    (root / "abs-out").symlink_to(outside)
    (root / "chain1").symlink_to("chain2")
    (root / "chain2").symlink_to("dir")
    (root / "dangling").symlink_to("nowhere/at/all")
    (root / "loop-a").symlink_to("loop-b")
    (root / "loop-b").symlink_to("loop-a")
    (root / "dir" / "up").symlink_to("..")
    (root / "dir" / "to-secret").symlink_to(outside / "secret.txt")
    (root / "dir" / "opencode.json").symlink_to("file.txt")
    return root


RELATIVES = [
    "",
    "dir",
    "dir/file.txt",
    "dir/sub/deep.txt",
    "dir/missing.txt",
    "dir/missing/deeper.txt",
    "rel-out",
    "rel-out/secret.txt",
    "abs-out/secret.txt",
    "chain1/file.txt",
    "chain1/sub",
    "dangling",
    "dangling/more",
    "loop-a",
    "loop-a/x",
    "dir/file.txt/not-a-folder",
    "dir/up/rel-out/secret.txt",
    "dir/to-secret",
    "dir/opencode.json",
]


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("relative", RELATIVES)
def test_real_is_realpath(
    tree: Path, relative: str, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protected, "_KERNEL", kernel and protected._KERNEL)
    path = posixpath.join(str(tree), relative) if relative else str(tree)
    assert real(path) == os.path.realpath(path)


@pytest.mark.parametrize("kernel", [True, False])
@pytest.mark.parametrize("directory", ["", "dir", "chain1", "rel-out", "abs-out", "dangling"])
@pytest.mark.parametrize("relative", [r for r in RELATIVES if r])
def test_real_below_is_realpath_of_both(
    tree: Path, directory: str, relative: str, kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protected, "_KERNEL", kernel and protected._KERNEL)
    folder = posixpath.join(str(tree), directory) if directory else str(tree)
    assert real_below(folder, relative) == (
        os.path.realpath(folder),
        os.path.realpath(posixpath.join(folder, relative)),
    )


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the kernel path needs /proc")
def test_the_kernel_answers_for_existing_paths(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # what the speed is for: no Python walk where the path exists
    def walked(path: str) -> str:
        raise AssertionError(f"os.path.realpath({path!r}) was called")

    monkeypatch.setattr(os.path, "realpath", walked)
    assert real(str(tree / "chain1" / "file.txt")) == str(tree / "dir" / "file.txt")
    assert real_below(str(tree / "abs-out"), "secret.txt") == (
        str(tree.parent / "outside"),
        str(tree.parent / "outside" / "secret.txt"),
    )


def test_a_link_swapped_between_two_calls_is_seen_by_the_second(tree: Path) -> None:
    link = tree / "docs"
    link.symlink_to(tree / "dir")
    assert real(str(link)) == str(tree / "dir")
    assert real_below(str(tree), "docs/file.txt")[1] == str(tree / "dir" / "file.txt")
    link.unlink()
    link.symlink_to(tree.parent / "outside")  # now it leads out of the root
    assert real(str(link)) == str(tree.parent / "outside")
    assert real_below(str(tree), "docs/secret.txt")[1] == str(tree.parent / "outside/secret.txt")
    # and a folder swapped for a link: the file below is looked up in the new one
    (tree / "dir" / "sub" / "deep.txt").unlink()
    (tree / "dir" / "sub").rmdir()
    (tree / "dir" / "sub").symlink_to(tree.parent / "outside")
    assert real_below(str(tree / "dir"), "sub/secret.txt") == (
        str(tree / "dir"),
        str(tree.parent / "outside" / "secret.txt"),
    )


def test_no_descriptor_is_left_open(tree: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        for relative in RELATIVES:
            real_below(str(tree), relative or "dir")
            real(posixpath.join(str(tree), relative))
    assert len(os.listdir("/proc/self/fd")) == before


# --- the protected paths, looked up by ancestor -------------------------------------

_PARTS = st.sampled_from(["proc", "etc", "home", "me", ".pgpass", "auth-tokens.json", "x", ""])


@settings(max_examples=400, deadline=None)
@given(
    folders=st.lists(st.lists(_PARTS, min_size=1, max_size=3), max_size=4),
    families=st.lists(st.tuples(st.lists(_PARTS, max_size=2), _PARTS), max_size=3),
    path=st.lists(_PARTS, min_size=0, max_size=5),
    trailing=st.booleans(),
)
def test_covers_is_within_any_folder_or_family(
    folders: list[list[str]],
    families: list[tuple[list[str], str]],
    path: list[str],
    trailing: bool,
) -> None:
    folder_paths = tuple("/" + "/".join(p for p in parts if p) for parts in folders)
    family_list = tuple(
        FileFamily("/" + "/".join(p for p in parts if p), name or "n") for parts, name in families
    )
    target = "/" + "/".join(path) + ("/" if trailing else "")
    guarded = Protected(folder_paths, family_list)
    expected = any(within(target, folder) for folder in folder_paths) or any(
        family.covers(target) for family in family_list
    )
    assert guarded.covers(target) == expected
