"""Themes and template overrides: the accent, logo and footer of `theme:`, the `templates:`
folder whose files replace the packaged ones, `check` rendering them, and an installed copy
(pip install --prefix) finding the packaged templates."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, run, write_article, write_config
from newsletter.core.colors import contrast
from newsletter.core.config import load_config
from newsletter.core.errors import ConfigError
from newsletter.rendering.palette import contrast_problems, palette_for
from newsletter.rendering.templating import TEMPLATES

THEME = {"accent": "#0F766E", "logo": {"url": "https://news.example.org/logo.png",
                                       "width": 120},
         "footer": "Made with care in Springfield."}


@pytest.fixture
def themed(project: Path) -> Path:
    write_article(project / "articles", "alpha", title="Alpha launches")
    overrides = project / "my-templates"
    overrides.mkdir()
    original = (TEMPLATES / "email.mjml.j2").read_text("utf-8")
    assert "<h1>{{ issue.title }}</h1>" in original
    (overrides / "email.mjml.j2").write_text(
        original.replace("<h1>{{ issue.title }}</h1>",
                         "<h1>{{ issue.title }}</h1><p>Brought to you by our readers</p>"),
        "utf-8")
    write_config(project, theme=THEME, templates="my-templates")
    return project


def test_theme_accent_and_a_one_template_override_show_in_the_built_email(themed: Path):
    result = run(themed, "build", "--date", "2021-02-22")
    assert result.exit_code == 0, result.output
    folder = themed / "issues" / "2021-02-22"
    html = (folder / "email.html").read_text("utf-8")
    assert "Brought to you by our readers" in html  # the override replaced the packaged one
    assert "Alpha launches" in html  # the rest (macros.j2) fell back to the packaged ones
    assert "border-top:3px solid #0f766e" in html  # the topic headings' rule
    assert "#4338ca" not in html  # the default accent is gone
    assert 'src="https://news.example.org/logo.png"' in html and 'width="120"' in html
    assert "Made with care in Springfield." in html
    text = (folder / "email.txt").read_text("utf-8")
    assert "Made with care in Springfield." in text
    page = (folder / "index.html").read_text("utf-8")
    assert "Made with care in Springfield." in page and "logo.png" in page
    assert "Brought to you by our readers" not in page  # only the email was overridden
    assert "#0f766e" in page  # the pages share the palette


def test_a_text_override_starts_with_its_own_lines_as_written(themed: Path) -> None:
    """Lines written at the top of a copy of the packaged ``email.txt.j2`` (what `init
    --templates` gives) keep their line breaks in the built plain-text part, the file and the
    sample message: the packaged template's opening comment strips no whitespace before it."""
    assert run(themed, "build", "--date", "2021-02-22").exit_code == 0
    folder = themed / "issues" / "2021-02-22"
    packaged = (folder / "email.txt").read_text("utf-8")
    lines = "Hello from the editors\nA second line, as written.\n\n"
    (themed / "my-templates" / "email.txt.j2").write_text(
        lines + (TEMPLATES / "email.txt.j2").read_text("utf-8"), "utf-8")
    assert run(themed, "build", "--date", "2021-02-22").exit_code == 0
    assert (folder / "email.txt").read_text("utf-8") == lines + packaged
    message = email.message_from_bytes((folder / "email.eml").read_bytes(),
                                       policy=email.policy.default)
    text = message.get_body(("plain",))
    assert text is not None
    assert text.get_content().startswith(lines.replace("\n", "\r\n"))  # as sent: CRLF
    opening = [name for name in os.listdir(TEMPLATES)  # the same holds for every template
               if (TEMPLATES / name).read_text("utf-8").startswith(("{#-", "{%-", "{{-"))]
    assert opening == []


def test_check_warns_of_an_old_copys_opening_tag_that_joins_the_lines_above(themed: Path
                                                                          ) -> None:
    """A copy of email.txt.j2 made while it opened with `{#-`: lines written above that
    tag lose their line break (the build joins them to the title), and `check` says so,
    naming the file, the line and the fix. The same copy without a line above, an HTML
    override and the tag as packaged now, change nothing and get no warning."""
    old_copy = "{#-" + (TEMPLATES / "email.txt.j2").read_text("utf-8").removeprefix("{#")
    text = themed / "my-templates" / "email.txt.j2"
    html = themed / "my-templates" / "email.mjml.j2"
    html.write_text("<!-- ours -->\n{#-" + html.read_text("utf-8").removeprefix("{#"), "utf-8")
    text.write_text("Hello from the editors\n\n" + old_copy, "utf-8")
    assert run(themed, "build", "--date", "2021-02-22").exit_code == 0
    built = (themed / "issues" / "2021-02-22" / "email.txt").read_text("utf-8")
    assert built.startswith("Hello from the editorsAI Weekly\n")  # what the warning is about
    result = run(themed, "check")
    assert result.exit_code == 0, result.output
    assert (f"{text}:3: warning: its first tag `{{#-` strips the line breaks above it, so "
            "the text written there runs into the next line of the email; write `{#` "
            "instead (as the packaged email.txt.j2 does)") in result.stderr.splitlines()
    assert str(html) not in result.stderr
    assert run(themed, "check", "--strict").exit_code == 1
    for fine in (old_copy, "Hello from the editors\n\n{#" + old_copy.removeprefix("{#-")):
        text.write_text(fine, "utf-8")
        result = run(themed, "check", "--strict")
        assert result.exit_code == 0, result.output
        assert "warning" not in result.stderr


def test_the_themed_palette_is_readable_everywhere(themed: Path) -> None:
    palette = palette_for(load_config(themed / "newsletter.yaml"))
    assert palette.light.accent == "#0f766e"
    assert contrast_problems(palette) == []


def test_a_low_contrast_accent_is_an_error_naming_the_ratio(project: Path) -> None:
    write_config(project, theme={"accent": "#88ccee", "accent_dark": "#123456"})
    with pytest.raises(ConfigError) as raised:
        load_config(project / "newsletter.yaml")
    message = str(raised.value)
    light = contrast("#88ccee", "#eef1f5")
    assert f"theme.accent: #88ccee has a contrast of {light:.2f}:1 against the light " \
           "background #eef1f5; WCAG AA needs 4.5:1" in message
    assert "theme.accent_dark: #123456 has a contrast of" in message
    assert "dark background" in message and "lighter colour" in message


@pytest.mark.parametrize(("theme", "expected"), [
    ({"accent": "teal"}, 'theme.accent: expected a colour such as "#0f766e", got "teal"'),
    ({"logo": {"url": "http://x.example/l.png", "width": 100}}, "theme.logo.url: expected an "
     "https URL"),
    ({"logo": {"url": "https://x.example/l.png", "width": 900}}, "theme.logo.width: expected "
     "a width in px of at most 600"),
    ({"footer": "x" * 201}, "theme.footer: expected a short line of at most 200 characters"),
    ({"colour": "#000000"}, 'theme.colour: unknown key'),
])
def test_theme_problems_name_the_key(project: Path, theme: dict, expected: str) -> None:
    write_config(project, theme=theme)
    result = run(project, "--strict", "check")
    assert result.exit_code == 1
    assert expected in result.output


def test_missing_templates_folder_says_how_to_make_one(project: Path) -> None:
    write_config(project, templates="nowhere")
    result = run(project, "check")
    assert result.exit_code == 1
    assert 'templates: folder "nowhere" not found' in result.output
    assert "newsletter init --templates" in result.output


def test_check_reports_a_broken_override_with_its_file_and_line(themed: Path) -> None:
    assert run(themed, "check").exit_code == 0
    broken = themed / "my-templates" / "issue.html.j2"
    broken.write_text('{% extends "web_base.html.j2" %}\n{% block main %}\n'
                      "{{ issue.nonexistent.field }}\n{% endblock %}\n", "utf-8")
    result = run(themed, "check")
    assert result.exit_code == 1
    assert f"{broken}:3: rendering the issue page: UndefinedError" in result.output
    broken.write_text("<p>\n{% if %}\n", "utf-8")
    result = run(themed, "check")
    assert result.exit_code == 1
    assert f"{broken}:2: Expected an expression" in result.output


def test_pip_install_prefix_finds_the_packaged_templates(tmp_path: Path) -> None:
    """An installed (not editable) copy, outside any virtual environment's own prefix, builds:
    the templates ship inside the package."""
    pytest.importorskip("setuptools", reason="the test extra installs setuptools")
    source = tmp_path / "source"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "issues", "golden", "test-artifacts",
        ".newsletter", "__pycache__", "docs", "benchmarks"))
    prefix = tmp_path / "prefix"
    install = subprocess.run(
        # --ignore-installed: without it pip "replaces" the copy this environment has
        # (deleting its console script) instead of only installing into the prefix
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed",
         "--no-build-isolation", "--prefix", str(prefix), str(source)],
        capture_output=True, text=True, timeout=300)
    if "invalid command 'bdist_wheel'" in install.stderr:
        pytest.skip("this environment's setuptools cannot build wheels: install `wheel` or "
                    "setuptools >= 70.1")
    assert install.returncode == 0, install.stderr
    site = next(prefix.glob("lib/python3*/site-packages"))
    assert (site / "newsletter" / "templates" / "email.mjml.j2").is_file()
    assert not (prefix / "share" / "newsletter").exists()

    work = tmp_path / "work"
    work.mkdir()
    write_config(work)
    write_article(work / "articles", "alpha", title="Alpha launches")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NEWSLETTER_CONFIG")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import newsletter; print(newsletter.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    built = subprocess.run([sys.executable, "-m", "newsletter", "build", "--date", "2021-02-22"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert "Alpha launches" in (work / "issues" / "2021-02-22" / "email.html").read_text("utf-8")
