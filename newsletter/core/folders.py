"""The folders of a newsletter: the config file's, found or missing (named with where the
newsletter is), and ``corpus:`` and ``output:``, resolved against it and checked together:
each message names the key and the fix."""

from __future__ import annotations

import difflib
import os
import shlex
from pathlib import Path

from .checks import Report, string

DEFAULT_CONFIG_NAME = "newsletter.yaml"


def newsletter_command(config_path: Path, words: str) -> str:
    """``newsletter WORDS`` for a person to run by hand: with ``--config PATH`` when the
    configuration in use is not the one the command finds from the current folder (its
    newsletter.yaml), as for a scheduler started with --config by systemd, whose lines are
    read and run from elsewhere; short otherwise."""
    here = Path(DEFAULT_CONFIG_NAME).absolute()
    try:
        found = config_path.absolute() == here or config_path.samefile(here)
    except OSError:  # either is missing: only the same path is the same file
        found = False
    if found:
        return f"newsletter {words}"
    return f"newsletter --config {shlex.quote(str(config_path.absolute()))} {words}"


def check_folders(report: Report, data: dict, folder: Path) -> tuple[Path | None, Path | None]:
    """The corpus and output folders, absolute; None for one that is not given right."""
    corpus_name = string(report, data, "corpus", "articles")
    corpus = (folder / corpus_name).resolve() if corpus_name else None
    if corpus is not None and corpus_name is not None and not corpus.is_dir():
        report.errors.append(_no_corpus(corpus_name, corpus))
    output_name = string(report, data, "output", "issues")
    output = (folder / output_name).resolve() if output_name else None
    if output is not None and output.exists() and not output.is_dir():
        report.errors.append(f'output: "{output_name}" exists and is not a folder')
    if corpus and output and output.is_relative_to(corpus):  # builds would read their issues
        if corpus == folder.resolve():  # the articles lie loose beside the config
            fix = 'give the articles a folder of their own, e.g. corpus: "articles"'
        else:
            fix = (f'put the output beside the corpus instead, e.g. output: '
                   f'"{_beside(corpus, folder)}"')
        report.errors.append(f'output: "{output_name}" is inside the corpus ("{corpus_name}"), '
                             f'where every build would read its own files back as articles; '
                             f'{fix}')
    return corpus, output


def _no_corpus(name: str, corpus: Path) -> str:
    """Why ``corpus`` is not a folder of articles, and the folder probably meant."""
    if corpus.exists():
        return (f'corpus: "{name}" is a file, not a folder (looked in {corpus}); give the '
                f'folder that holds the article files, e.g. corpus: '
                f'"{Path(name).parent.as_posix()}"')
    message = f'corpus: folder "{name}" not found (looked in {corpus})'
    parent = corpus.parent
    try:
        siblings = [entry.name for entry in os.scandir(parent)
                    if entry.is_dir() and not entry.name.startswith(".")]
    except OSError:  # the parent is missing too, or unreadable: nothing to suggest
        return message
    close = difflib.get_close_matches(corpus.name, siblings, n=1, cutoff=0.7)
    if close:
        meant = (Path(name).parent / close[0]).as_posix()
        message += f'; did you mean "{meant}"?'
    return message


def _beside(corpus: Path, folder: Path) -> str:
    """``issues`` beside the corpus, written relative to the config's folder when it can be."""
    target = corpus.parent / "issues"
    try:
        return target.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(target)


def _newsletters_below(folder: Path, look_at: int = 1000) -> list[Path]:
    """The newsletter.yaml files of ``folder``'s subfolders (not deeper), sorted: run where
    ``newsletter init DIR`` was, the newsletter is one folder down. A folder of many entries
    is looked at only in part (its first ``look_at``), as a hint costs no long wait."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= look_at:
                    break
                candidate = Path(entry.path) / DEFAULT_CONFIG_NAME
                if (not entry.name.startswith(".") and entry.is_dir()
                        and candidate.is_file()):
                    found.append(candidate)
    except OSError:
        return []
    return sorted(found)


def missing_config_fix(path: Path) -> str:
    """What to do when ``path`` is missing. Run from a subfolder of a newsletter, its
    newsletter.yaml above is named but never used in its stead: relative paths in it and the
    output folder would then depend on where the command happened to run."""
    if path.name == DEFAULT_CONFIG_NAME:
        for folder in path.parent.parents:
            found = folder / DEFAULT_CONFIG_NAME
            try:
                if found.is_file():
                    return (f"there is one in a parent folder, {found}: run the command there "
                            f"(cd {folder}) or pass --config {found}")
            except OSError:  # a folder above that may not be looked into
                break
        below = _newsletters_below(path.parent)
        if below:
            found = below[0]
            others = f" (and {len(below) - 1} more there)" if len(below) > 1 else ""
            return (f"there is one in a folder here, {found}{others}: run the command there "
                    f"(cd {found.parent}, as `newsletter init` said) or pass --config {found}")
        return (f"start a newsletter in {path.parent} with `newsletter init`, or pass "
                "--config PATH")
    return "check the path given with --config (or in NEWSLETTER_CONFIG)"
