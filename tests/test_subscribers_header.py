"""``newsletter subscribers import`` with a header that is not ours names the line it is
on in the file as an editor numbers it: blank lines before it, a byte order mark, Windows
line ends and a quoted cell running over two lines all counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run, write_config

EXPECTED = "expected the header email,name[,topics] (and optionally status)"


@pytest.mark.parametrize(("content", "line", "got"), [
    (b"mail,name\nx@example.org,X\n", 1, "'mail,name'"),
    (b"\n\nmail,name\nx@example.org,X\n", 3, "'mail,name'"),
    (b"\r\n\r\n\r\nmail,name\r\nx@example.org,X\r\n", 4, "'mail,name'"),
    (b"\xef\xbb\xbf\n , \nmail,name\nx@example.org,X\n", 3, "'mail,name'"),
    (b"# exported on Monday\nemail,name\nx@example.org,X\n", 1, "'# exported on Monday'"),
    (b'\n"a list,\nover two lines",name\nemail,name\n', 2, "'a list,\\nover two lines,name'"),
])
def test_a_wrong_header_names_its_line(tmp_path: Path, content: bytes, line: int,
                                       got: str) -> None:
    write_config(tmp_path)
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    result = run(tmp_path, "subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}: line {line}: {EXPECTED}, got {got}" in result.output, result.output


def test_a_byte_order_mark_after_blank_lines_is_no_part_of_the_header(tmp_path: Path
                                                                      ) -> None:
    """Files put together from others carry their mark where the second one began."""
    write_config(tmp_path)
    path = tmp_path / "people.csv"
    path.write_bytes(b"\n\n\xef\xbb\xbfEmail, Name\nx@example.org,X\n")
    result = run(tmp_path, "subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "Imported 1 subscriber(s)" in result.output


def test_bad_rows_after_leading_blank_lines_keep_their_lines(tmp_path: Path) -> None:
    write_config(tmp_path)
    path = tmp_path / "people.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n\r\nemail,name\r\nnot-an-address,X\r\n\r\nok@example.org,\r\n"
                     b"also bad,Y\r\n")
    result = run(tmp_path, "subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}: line 4: not-an-address:" in result.output, result.output
    assert f"{path}: line 7: also bad:" in result.output, result.output
