"""Every source the product cites can be followed, and nothing it shows points outside it.

- No user-facing file (README, CHANGELOG, docs, the package with its data, the protocol and
  calibration packages, notebooks, benchmarks) names a file or folder outside the repository.
- Every author-year citation of the fault catalogue (rules' ``source``, faults' ``limitations``),
  of the README and of the docs has an entry in ``docs/references.md``.
- The knowledge-base documents of the catalogue's ``[[document]]`` table are the ones listed, by
  id and title, in ``docs/references.md``, which describes them in its own words.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gait.faults import CATALOGUE, DOCUMENTS
from tests._fault_fixtures import REPO, SEEDS_DIR

REFERENCES = REPO / "docs" / "references.md"
CATALOGUE_FILE = REPO / "gait" / "data" / "faults.toml"

#: What the product shows its users: these files and every text file under these folders.
USER_FACING_FILES = ("README.md", "CHANGELOG.md", "pyproject.toml")
USER_FACING_DIRS = ("docs", "gait", "firmware_protocol", "calibration", "notebooks", "benchmarks")
TEXT_SUFFIXES = {".md", ".py", ".toml", ".json", ".ipynb", ".c", ".h", ".ino", ".txt", ".cfg", ".ini", ".yaml"}

#: Pointers to files outside the repository (a sibling folder, or its private notes).
OUTSIDE = re.compile(r"REFERENCES\.md|DESIGN\.md|STYLE\.md|\.\./shared|\.\.\\shared|shared/seeds")

#: An author-year citation: "Napier 2018", "Teng & Powers 2015", "Lieberman et al. 2010",
#: "Moe-Nilssen & Helbostad 2004", "Alcantara et al. (2022)"; the first author's surname and the year.
CITATION = re.compile(
    r"\b(?P<name>[A-Z][A-Za-z'\-]+)(?: et al\.?)?(?: (?:&|and) [A-Z][A-Za-z'\-]+)?,? \(?(?P<year>(?:19|20)\d\d)\b"
)


def user_facing_files() -> list[Path]:
    files = [REPO / f for f in USER_FACING_FILES]
    for d in USER_FACING_DIRS:
        files += [
            p
            for p in sorted((REPO / d).rglob("*"))
            if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
        ]
    return files


def outside_pointers(text: str) -> list[str]:
    """Each line of ``text`` that points outside the repository."""
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def citations(text: str) -> set[tuple[str, str]]:
    return {(m["name"], m["year"]) for m in CITATION.finditer(text)}


def reference_entries(text: str) -> list[str]:
    """The entries of a references page: each ``- **...`` bullet with its continuation lines."""
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith("- **"):
            entries.append(line)
        elif entries and line.startswith("  ") and line.strip():
            entries[-1] += " " + line.strip()
    return entries


def missing_references(cited: set[tuple[str, str]], entries: list[str]) -> list[str]:
    """Citations with no entry naming both the surname and the year."""
    return sorted(f"{n} {y}" for n, y in cited if not any(n in e and y in e for e in entries))


def catalogue_citations() -> set[tuple[str, str]]:
    doc = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    texts = [f.get("limitations", "") for f in doc["fault"]]
    texts += [r.get("source", "") for f in doc["fault"] for r in f.get("rules", [])]
    return citations("\n".join(texts))


# ---------------------------------------------------------------------------------------
# nothing points outside the project
# ---------------------------------------------------------------------------------------
def test_no_user_facing_file_points_outside_the_project():
    files = user_facing_files()
    assert len(files) > 100 and REPO / "gait" / "data" / "faults.toml" in files
    found = {
        str(p.relative_to(REPO)): hits
        for p in files
        if (hits := outside_pointers(p.read_text(encoding="utf-8", errors="replace")))
    }
    assert not found, found


@pytest.mark.parametrize(
    "line",
    [
        "Vertical oscillation follows REFERENCES.md (and the force plate).",
        "the real recordings in `../shared/data/` skip cleanly",
        "# the knowledge base in ../shared/seeds/ is paraphrased",
        'data = Path("..") / "shared/seeds"',
        "every row of DESIGN.md has an entry",
    ],
)
def test_a_pointer_outside_would_be_caught(line):
    assert outside_pointers(f"first line\n{line}\nlast line") == [line]


def test_real_data_are_named_by_their_publication():
    validation = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    section = validation.split("## Where the real data live")[1].split("\n## ")[0]
    assert "GAIT_SHARED_DATA" in section and "a `shared/data` folder beside the" in section
    for name in ("Alcantara et al. (2022)", "Fukuchi et al. (2017)", "Voisard et al. (2023)"):
        assert name in section


# ---------------------------------------------------------------------------------------
# every cited source has a full reference
# ---------------------------------------------------------------------------------------
def test_citation_pattern_finds_the_forms_the_catalogue_uses():
    text = (
        "Direction of effect: Napier 2018 (runners...). Teng & Powers 2015: high-lean group. "
        "physical basis Lieberman et al. 2010, Moe-Nilssen & Helbostad 2004 and Schuette 2015; "
        "Alcantara et al. (2022). Document 004: raise weekly mileage; 2.5-4.2 m/s; levels 4/7/12 %."
    )
    assert citations(text) == {
        ("Napier", "2018"),
        ("Teng", "2015"),
        ("Lieberman", "2010"),
        ("Moe-Nilssen", "2004"),
        ("Schuette", "2015"),
        ("Alcantara", "2022"),
    }


def test_every_citation_in_the_catalogue_has_a_reference():
    cited = catalogue_citations()
    # the catalogue cites at least these (so the check cannot pass on an empty extraction)
    assert {("Napier", "2018"), ("Heiderscheit", "2011"), ("Seay", "2011"), ("Levine", "2007")} <= cited
    assert len(cited) >= 14
    entries = reference_entries(REFERENCES.read_text(encoding="utf-8"))
    assert len(entries) >= 50
    assert not missing_references(cited, entries)


@pytest.mark.parametrize("name", ["README.md", *sorted(p.name for p in (REPO / "docs").glob("*.md"))])
def test_every_citation_in_the_docs_has_a_reference(name):
    path = REPO / name if name == "README.md" else REPO / "docs" / name
    # a word in capitals before a year is an author's initials or a name such as "GYRO 2000 dps"
    cited = {c for c in citations(path.read_text(encoding="utf-8")) if not c[0].isupper()}
    entries = reference_entries(REFERENCES.read_text(encoding="utf-8"))
    assert not missing_references(cited, entries)


def test_a_missing_reference_would_be_caught():
    entries = reference_entries(REFERENCES.read_text(encoding="utf-8"))
    without = [e for e in entries if not e.startswith("- **Napier 2018**")]
    assert len(without) == len(entries) - 1
    assert missing_references(catalogue_citations(), without) == ["Napier 2018"]


def test_every_entry_says_how_far_it_was_checked():
    for e in reference_entries(REFERENCES.read_text(encoding="utf-8")):
        assert "Checked" in e or "Not checked" in e or "Identified:" in e, e


# ---------------------------------------------------------------------------------------
# the knowledge-base documents
# ---------------------------------------------------------------------------------------
def _knowledge_base_entries() -> dict[str, str]:
    text = REFERENCES.read_text(encoding="utf-8").split("## Knowledge-base documents")[1]
    return {e[4:7]: e for e in reference_entries(text)}


def test_references_list_the_catalogue_documents_by_title():
    entries = _knowledge_base_entries()
    assert list(entries) == list(DOCUMENTS)
    for k, d in CATALOGUE.documents.items():
        assert f"*{d.title}" in entries[k]
        if d.publisher:
            assert d.publisher in entries[k]
        else:
            assert "Publisher not identified" in entries[k]
        if d.url:
            assert d.url in entries[k]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.replace("\u2019", "'").lower())


def _ngrams(words: list[str], n: int = 8) -> set[tuple[str, ...]]:
    return {tuple(words[k : k + n]) for k in range(len(words) - n + 1)}


def test_documents_are_described_in_own_words():
    seeds = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if len(seeds) != 5:
        pytest.skip(f"the five knowledge-base documents are not at {SEEDS_DIR}")
    grams: set[tuple[str, ...]] = set()
    for f in seeds:
        grams |= _ngrams(_words(f.read_text(encoding="utf-8")))
    for k, entry in _knowledge_base_entries().items():
        # titles (in italics) and addresses identify a document and are quoted on purpose
        described = re.sub(r"\*\*[^*]+\*\*|\*[^*]+\*|https?://\S+", " ", entry)
        copied = [" ".join(g) for g in _ngrams(_words(described)) & grams]
        assert not copied, f"document {k}: {copied}"
