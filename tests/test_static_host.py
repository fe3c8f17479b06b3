"""The README's copy of the site to a static host ("On a static host"), run as written: the
host gets exactly the files ``serve`` serves, never a draft, an editor's file or the
scheduler's lock file, and loses what it held beyond them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PROJECT, run, sample_site
from newsletter.core.config import load_config
from newsletter.schedule import loop
from newsletter.schedule.runs import LOCK_NAME
from newsletter.web.public import Site

README_FOLDER = "/srv/newsletter/issues"
README_HOST = "web.example.org:/var/www/ai/"


def readme_copy_command() -> str:
    """The README's one ```bash block that runs rsync."""
    blocks = re.findall(r"```bash\n(.*?)```", (PROJECT / "README.md").read_text("utf-8"),
                        re.DOTALL)
    commands = [block for block in blocks if "rsync" in block]
    assert len(commands) == 1, "README: one bash block copies the site with rsync"
    assert README_FOLDER in commands[0] and README_HOST in commands[0]
    return commands[0]


def served(site: Site, folder: Path) -> set[str]:
    """The files of ``folder`` the public site answers 200 for."""
    found = set()
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        statuses: list[str] = []
        site({"REQUEST_METHOD": "GET", "PATH_INFO": f"{site.prefix}{relative}"},
             lambda status, headers, statuses=statuses: statuses.append(status))
        if path.is_file() and statuses == ["200 OK"]:
            found.add(relative)
    return found


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed "
                    "(Debian: apt install rsync; .ci/run installs it)")
def test_the_readme_copies_to_a_static_host_what_serve_serves(tmp_path: Path) -> None:
    output = sample_site(tmp_path / "site")
    config = load_config(tmp_path / "site" / "newsletter.yaml")
    assert run(tmp_path / "site", "build", "--date", "2021-03-01").exit_code == 0  # a draft
    host = tmp_path / "host"
    (host / "2021-03-01").mkdir(parents=True)  # what an earlier, careless copy left there
    (host / "2021-03-01" / "index.html").write_text("draft", "utf-8")
    (host / LOCK_NAME).write_text("4242\n", "utf-8")
    command = (readme_copy_command().replace(README_FOLDER, str(output))
               .replace(README_HOST, f"{host}/"))
    with loop.scheduler_lock(config):  # the lock file is there, held, as a scheduler holds it
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=60)
    copied = {p.relative_to(host).as_posix() for p in host.rglob("*") if p.is_file()}
    public = served(Site(config, secret=b"s" * 32), output)
    assert copied == public
    assert {"index.html", "feed.xml", "2021-02-22/index.html", "topics/ai.xml"} <= copied
    assert "2021-02-22/email.html" not in copied  # its reader's links are placeholders
    assert (output / LOCK_NAME).is_file() and (output / "2021-03-01" / "index.html").is_file()
    assert LOCK_NAME not in copied and not any(p.startswith("2021-03-01") for p in copied)
    assert all((host / p).read_bytes() == (output / p).read_bytes() for p in copied)
