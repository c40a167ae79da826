"""The console's row of a site whose source cannot be used says so, with the reason: a
local file re-read after an edit and a remote feed fetch report the same way."""

from __future__ import annotations

from pathlib import Path

from syncd.core.policy import Policy
from syncd.edges.config import SiteSettings, SourceSettings
from syncd.edges.config.secrets import Secret
from syncd.frontends.console.auth import Viewer
from syncd.frontends.console.pages import overview
from syncd.frontends.daemon.health import SiteStatuses
from syncd.frontends.daemon.site_board import Board

FEED = "https://feeds.example/stock.csv"


def _row(page: str, site: str) -> str:
    return page.split(f'data-site="{site}"', 1)[1].split("</tr>", 1)[0]


def test_a_failing_feed_shows_as_source_failing_with_its_error_on_the_overview():
    board = Board()
    board.adopt([SiteSettings(name=name, site_id=name, source=SourceSettings(path=Path("s")),
                              policy=Policy(), api_key=Secret("k")) for name in ("eu", "us")])
    statuses = SiteStatuses()
    statuses.add(["eu", "us"])
    statuses.report_source(["eu"], FEED, f"{FEED}: HTTP 503 Service Unavailable")
    page = str(overview(board.sites, statuses.statuses,
                        Viewer(can_act=False, csrf="", signed_in=False), now_s=0.0))
    assert "source failing" in _row(page, "eu")
    assert "HTTP 503 Service Unavailable" in _row(page, "eu")
    assert "source failing" not in _row(page, "us")

    statuses.report_source(["eu"], FEED, None)  # the next fetch worked
    page = str(overview(board.sites, statuses.statuses,
                        Viewer(can_act=False, csrf="", signed_in=False), now_s=0.0))
    assert "source failing" not in _row(page, "eu")


def test_a_site_whose_source_fails_is_listed_among_the_failing_ones_first():
    board = Board()
    board.adopt([SiteSettings(name=name, site_id=name, source=SourceSettings(path=Path("s")),
                              policy=Policy(), api_key=Secret("k")) for name in ("a", "z")])
    statuses = SiteStatuses()
    statuses.add(["a", "z"])
    statuses.report_source(["z"], "stock.csv", "stock.csv:4: quantity: not a number")
    page = str(overview(board.sites, statuses.statuses,
                        Viewer(can_act=False, csrf="", signed_in=False), now_s=0.0))
    assert page.index('data-site="z"') < page.index('data-site="a"')
