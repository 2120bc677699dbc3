"""`generated_name` without a regex per ASCII name gives what the regex gave:
the earlier implementation is kept here as the reference, and both are run on
names around every edge (case, width, digits of other scripts, characters that
fold into ASCII letters, long numbers) and on random ones."""

from __future__ import annotations

import re
from collections.abc import Collection

from hypothesis import given, settings
from hypothesis import strategies as st

from core.store.changes import generated_name


def reference(taken: Collection[str], stem: str = "token") -> str:
    """generated_name as it was: the regex on every name whose casefold starts right."""
    highest = 0
    folded = set()
    start = f"{stem.casefold()}-"
    pattern = re.compile(rf"{re.escape(stem)}-([0-9]{{1,9}})", re.IGNORECASE)
    for name in taken:
        lowered = name.casefold()
        folded.add(lowered)
        if lowered.startswith(start):
            match = pattern.fullmatch(name)
            if match:
                highest = max(highest, int(match.group(1)))
    n = highest + 1
    while f"{start}{n}" in folded:
        n += 1
    return f"{stem}-{n}"


STEMS = ["token", "device", "Tok", "\u00df", "Stra\u00dfe", "d\u0130v"]
EDGES = [
    "token-1",
    "TOKEN-3",
    "Token-0009",
    "token-123456789",
    "token-1234567890",
    "token-",
    "token-x",
    "token-5 ",
    " token-5",
    "token--5",
    "token-\u0663",  # an Arabic-Indic digit
    "token-\uff15",  # a full-width 5
    "token-\u00b2",  # superscript two
    "tok\u0435n-5",  # a Cyrillic e
    "to\u212aen-7",  # the Kelvin sign, which folds to k
    "dev\u0130ce-4",
    "dev\u0131ce-6",
    "device-2",
    "DEVICE-8",
    "ss-3",
    "\u00df-4",
    "SS-5",
    "strasse-6",
    "Stra\u00dfe-7",
    "tok-9",
    "d\u0130v-3",
    "di\u0307v-4",
]


def test_edges_for_every_stem() -> None:
    for stem in STEMS:
        for i in range(len(EDGES)):
            for taken in (EDGES[: i + 1], EDGES[i:], [EDGES[i]], [EDGES[i], f"{stem}-2"]):
                assert generated_name(taken, stem) == reference(taken, stem), (stem, taken)


def test_every_character_in_every_place_of_the_stems_in_use() -> None:
    """Every non-ASCII character in each place of `token-` and `device-`."""
    for stem in ("token", "device"):
        for code in range(0x80, 0x110000):
            if 0xD800 <= code < 0xE000:
                continue
            ch = chr(code)
            if not (ch.casefold().isascii() or ch.lower().isascii() or ch.upper().isascii()):
                continue
            for i in range(len(stem)):
                taken = [stem[:i] + ch + stem[i + 1 :] + "-5"]
                assert generated_name(taken, stem) == reference(taken, stem), (stem, taken)


NAMES = st.lists(
    st.one_of(
        st.text(max_size=12),
        st.builds(
            lambda p, n, s: f"{p}-{n}{s}",
            st.sampled_from(["token", "TOKEN", "Token", "device", "to\u212aen", "tok"]),
            st.integers(0, 10**11),
            st.sampled_from(["", " ", "x", "\u0663"]),
        ),
    ),
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(taken=NAMES, stem=st.sampled_from(STEMS))
def test_random_names(taken: list[str], stem: str) -> None:
    assert generated_name(taken, stem) == reference(taken, stem)
