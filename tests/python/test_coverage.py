"""Which ops of OPS.md have a row in the op table, and that nothing public
escapes the table."""
from pathlib import Path

import pytest

import nthgrad.functional as F
from op_db import op_names

OPS_LIST = Path(__file__).with_name("ops_list.txt")
# Sections of the technical note whose every function must have a row by now.
DONE_SECTIONS = set(range(2, 15))  # every section of the note (2-14)


def _required_ops():
    """({section: [note functions]}, [related functions])"""
    note, related, section = {}, [], None
    for line in OPS_LIST.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section.startswith("note"):
            note.setdefault(int(section.split()[1]), []).append(line.strip())
        else:
            related.append(line.strip())
    return note, related


def test_every_public_function_has_a_row():
    missing = sorted(set(F.__all__) - set(op_names()))
    assert not missing, f"functions of nthgrad.functional without an op_db row: {missing}"


def test_every_row_is_an_ops_md_function():
    note, related = _required_ops()
    all_note = [n for names in note.values() for n in names]
    unknown = sorted(set(op_names()) - set(all_note) - set(related))
    assert not unknown, f"op_db rows that OPS.md does not list: {unknown}"
    assert len(all_note) == 147


@pytest.mark.parametrize("section", sorted(DONE_SECTIONS))
def test_finished_sections_have_every_function(section):
    note, _ = _required_ops()
    missing = [n for n in note[section] if n not in op_names()]
    assert not missing, f"section {section} of the technical note lacks rows for {missing}"


def test_ops_without_a_row_yet():
    """Lists (as a skip reason, shown by -ra) the OPS.md functions still to do."""
    note, related = _required_ops()
    todo = [n for names in note.values() for n in names if n not in op_names()]
    todo_related = [n for n in related if n not in op_names()]
    if todo or todo_related:
        pytest.skip(f"{len(todo)} of 147 technical-note functions have no row yet: {', '.join(todo)}; "
                    f"related: {len(todo_related)} ({', '.join(todo_related)})")
