"""``newsletter send D --to ADDRESS`` against an SMTP server nobody listens on says the
server is unreachable and the settings to check, as a send to the subscribers does, rather
than "failed: ADDRESS" as if the address were the problem."""

from __future__ import annotations

import pytest

from conftest import make_config, run, write_article
from newsletter.delivery import send as deliver
from newsletter.delivery.smtp import Retry
from smtp_support import free_port

pytestmark = pytest.mark.usefixtures("secret")


def test_a_test_copy_to_an_unreachable_server_names_the_server(tmp_path, monkeypatch):
    monkeypatch.setattr(deliver, "DEFAULT_RETRY", Retry(attempts=2, first_delay=0.01,
                                                        max_total=2))
    write_article(tmp_path / "articles", "one", quality=80)
    port = free_port()
    make_config(tmp_path, state_dir="state", smtp={"host": "127.0.0.1", "port": port})
    assert run(tmp_path, "build", "--date", "2021-02-22", "--publish").exit_code == 0
    result = run(tmp_path, "send", "2021-02-22", "--to", "me@example.org")
    assert result.exit_code == 1, result.output
    assert "failed: me@example.org" not in result.output
    assert (f"Error: the SMTP server 127.0.0.1:{port} is unreachable or keeps dropping the "
            "connection") in result.output
    assert ("check smtp.host, smtp.port and smtp.security; the test copy to me@example.org "
            "was not sent") in result.output
