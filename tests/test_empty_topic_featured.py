"""A configured topic left empty because the window's articles with it were all featured in
earlier issues says so, in explain and in build, instead of "no article in the window",
which the editor reads as a missing or misfiled article (explain lists them right below)."""

from __future__ import annotations

from conftest import run, write_article, write_config


def test_a_topic_whose_articles_went_out_before_says_so(tmp_path):
    write_config(tmp_path, topics=["AI", "Robotics"])
    write_article(tmp_path / "articles", "one", topics=["AI"])
    assert run(tmp_path, "build", "--date", "2021-02-18", "--publish").exit_code == 0
    explained = run(tmp_path, "explain", "--date", "2021-02-19")
    assert explained.exit_code == 0, explained.output
    assert ("  AI: 0 (no article in the window to place in it: 1 article in it with this "
            "topic was featured in an earlier issue already)\n") in explained.stdout
    assert "  Robotics: 0 (no article in the window to place in it)\n" in explained.stdout
