"""What people do, in a real browser: staff onboard a customer, the IT admin sets up.

Every step finds controls by the words DESIGN.md promises ("New organization",
"Send invite", "Sign in", the feature names, "Admin Portal", "Finish setup"),
so a renamed button fails here as it would confuse a person.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import Screenshots
from tests.fixtures.live_server import LiveStack

pytestmark = pytest.mark.browser

SETUP_LINK = re.compile(r"https?://[^\s\"'<>]+/setup/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def sign_in_at_provider(page: Page, subject: str) -> None:
    """oidc-provider-mock's authorization page: type the subject, press Authorize."""
    page.wait_for_url(re.compile(r"/oauth2/authorize"))
    page.locator('input[name="sub"]').fill(subject)
    page.get_by_role("button", name="Authorize").click()


def staff_sign_in(page: Page, email: str) -> None:
    page.goto("/orgs")
    page.get_by_role("button", name="Sign in", exact=True).click()
    sign_in_at_provider(page, email)
    page.wait_for_url(re.compile(r"/orgs"))


def unique(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**9}"


def create_organization(
    page: Page,
    *,
    name: str,
    external_id: str,
    domains: list[str],
    admins: list[str],
    features: list[str],
) -> None:
    page.goto("/orgs")
    page.get_by_role("link", name="New organization").or_(
        page.get_by_role("button", name="New organization")
    ).first.click()
    page.get_by_role("textbox", name="Name", exact=True).fill(name)
    page.get_by_label("External ID").fill(external_id)
    page.get_by_label("Domains").fill("\n".join(domains))
    page.get_by_label("IT admin emails").fill("\n".join(admins))
    for feature in features:
        page.get_by_role("checkbox", name=feature).check()
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def send_invite_if_offered(page: Page, admins: list[str]) -> None:
    """Creating with IT admin emails invites at once; otherwise press "Send invite"."""
    if page.get_by_text("No IT admin has been invited yet").count():
        page.get_by_role("textbox", name="IT admin emails").fill("\n".join(admins))
        page.get_by_role("button", name="Send invite").click()
    expect(page.get_by_role("button", name="Revoke", exact=True)).to_be_visible()


def setup_url_from_mail(page: Page, to_address: str, timeout: float = 15.0) -> str:
    """Find the setup URL in the email to `to_address`, as the IT admin would: at /dev/mail."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto("/dev/mail")
        found = SETUP_LINK.search(page.content())
        if found is None:
            message = page.get_by_role("link", name=re.compile(re.escape(to_address)))
            if message.count():
                message.first.click()
                found = SETUP_LINK.search(page.content())
        if found is not None:
            return found.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"no invite email to {to_address} at /dev/mail")
        time.sleep(0.5)


def it_admin_sign_in(page: Page, setup_url: str, email: str) -> None:
    page.goto(setup_url)
    page.get_by_role("button", name=re.compile(r"^Sign in")).first.click()
    sign_in_at_provider(page, email)
    page.wait_for_url(re.compile(r"/setup/"))


def test_whole_journey_from_new_organization_to_feature_done(
    live_stack: LiveStack, new_context: Callable[[], BrowserContext], shots: Screenshots
) -> None:
    staff: Page = new_context().new_page()
    admin: Page = new_context().new_page()
    name = unique("Journey Corp ")
    domain = f"{unique('journey')}.example.com"
    it_admin = f"it.admin@{domain}"
    live_stack.register(it_admin)

    staff_sign_in(staff, live_stack.staff_email)
    shots.take(staff, "orgs")
    create_organization(
        staff,
        name=name,
        external_id=unique("ext-journey-"),
        domains=[domain],
        admins=[it_admin],
        features=["Single Sign-On", "Directory Sync"],
    )
    shots.take(staff, "organization")
    send_invite_if_offered(staff, [it_admin])
    organization_path = urlsplit(staff.url).path
    setup_url = setup_url_from_mail(staff, it_admin)
    shots.take(staff, "mail")

    admin.goto(setup_url)
    expect(admin.get_by_role("heading", level=1)).to_contain_text(name)
    shots.take(admin, "setup-signed-out")
    it_admin_sign_in(admin, setup_url, it_admin)
    expect(admin.get_by_text(f"Signed in as {it_admin}").first).to_be_visible()
    shots.take(admin, "setup-signed-in")
    admin.get_by_role("button", name="Single Sign-On").click()
    expect(admin.get_by_role("heading", name="Admin Portal")).to_be_visible()
    assert admin.url.startswith(live_stack.emulator_url)
    expect(admin.get_by_text("sso")).to_be_visible()
    shots.take(admin, "portal")
    admin.get_by_role("button", name="Finish setup").click()
    admin.wait_for_url(re.compile(r"/setup/"))
    shots.take(admin, "setup-after-portal")

    staff.goto(organization_path)
    feature_row = staff.locator("tr, li, div.card").filter(has_text="Single Sign-On")
    deadline = time.monotonic() + 15
    while not feature_row.filter(has_text="Done").count():
        assert time.monotonic() < deadline, "Single Sign-On never showed Done to staff"
        time.sleep(0.5)
        staff.reload()
    shots.take(staff, "organization-done")
    expect(feature_row.filter(has_text="Done").first).to_be_visible()


def _invite_and_get_url(
    live_stack: LiveStack, staff: Page, it_admin: str, features: list[str]
) -> tuple[str, str]:
    domain = it_admin.split("@", 1)[1]
    name = unique("Browser Org ")
    live_stack.register(it_admin)
    staff_sign_in(staff, live_stack.staff_email)
    create_organization(
        staff,
        name=name,
        external_id=unique("ext-"),
        domains=[domain],
        admins=[it_admin],
        features=features,
    )
    send_invite_if_offered(staff, [it_admin])
    organization_path = urlsplit(staff.url).path
    return setup_url_from_mail(staff, it_admin), organization_path


def test_a_wrong_account_is_refused_and_gets_no_portal(
    live_stack: LiveStack, new_context: Callable[[], BrowserContext], shots: Screenshots
) -> None:
    staff: Page = new_context().new_page()
    stranger: Page = new_context().new_page()
    domain = f"{unique('refuse')}.example.com"
    setup_url, _ = _invite_and_get_url(
        live_stack, staff, f"it@{domain}", ["Single Sign-On"]
    )
    forwarded_to = f"someone.else@{domain}"
    live_stack.register(forwarded_to)
    sessions_before = len(live_stack.emulator_state().get("portal_sessions", []))

    it_admin_sign_in(stranger, setup_url, forwarded_to)
    shots.take(stranger, "refused")

    expect(
        stranger.get_by_role("heading", name="This account is not invited")
    ).to_be_visible()
    expect(stranger.get_by_text(forwarded_to)).to_be_visible()
    expect(stranger.get_by_role("button", name="Single Sign-On")).to_have_count(0)
    assert (
        len(live_stack.emulator_state().get("portal_sessions", [])) == sessions_before
    )


def test_a_revoked_link_says_so_and_whom_to_contact(
    live_stack: LiveStack, new_context: Callable[[], BrowserContext], shots: Screenshots
) -> None:
    staff: Page = new_context().new_page()
    admin: Page = new_context().new_page()
    it_admin = f"it@{unique('revoke')}.example.com"
    setup_url, organization_path = _invite_and_get_url(
        live_stack, staff, it_admin, ["Audit Logs"]
    )
    admin.goto(setup_url)
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Set up")

    staff.goto(organization_path)
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="Revoke", exact=True).first.click()
    expect(staff.get_by_text("No active setup link")).to_be_visible()
    shots.take(staff, "revoked")
    admin.goto(setup_url)
    shots.take(admin, "link-ended")

    expect(
        admin.get_by_role("heading", name="This setup link no longer works")
    ).to_be_visible()
    expect(
        admin.locator("main").get_by_role(
            "link", name=live_stack.settings.support_email
        )
    ).to_be_visible()
    expect(admin.get_by_role("button", name=re.compile(r"^Sign in"))).to_have_count(0)


def test_search_filters_as_you_type_and_pages_through(
    live_stack: LiveStack, new_context: Callable[[], BrowserContext], shots: Screenshots
) -> None:
    staff: Page = new_context().new_page()
    marker = unique("zq")
    names = [f"{marker} Search Org {i:02d}" for i in range(60)]
    _insert_organizations(live_stack, names)
    staff_sign_in(staff, live_stack.staff_email)

    search = staff.get_by_label("Search")
    search.press_sequentially(marker, delay=30)
    # The search has run once the URL carries it (the unfiltered first page may
    # already show the same rows, so the rows alone prove nothing).
    expect(staff).to_have_url(re.compile(rf"[?&]q={marker}"))
    shots.take(staff, "search")

    rows = staff.locator("main").get_by_role(
        "link", name=re.compile(rf"{marker} Search Org \d\d")
    )
    expect(rows.first).to_be_visible()
    expect(rows.filter(has_text=f"{marker} Search Org 00")).to_be_visible()
    first_page = set(rows.all_inner_texts())
    assert 0 < len(first_page) < len(names), "the first page should not hold all 60"

    staff.get_by_role("link", name="Next page").click()
    expect(rows.filter(has_text=f"{marker} Search Org 00")).to_have_count(0)
    shots.take(staff, "search-page-2")
    second_page = set(rows.all_inner_texts())
    assert second_page and not (second_page & first_page)

    search.fill(f"{marker} Search Org 59")
    expect(rows).to_have_count(1)


def _insert_organizations(live_stack: LiveStack, names: list[str]) -> None:
    """Rows straight into the live database: pagination needs more than one page."""
    from dashboard.models import Organization

    rows: list[Any] = [
        Organization(
            name=n, name_key=n.lower(), external_id=f"ext-{n.replace(' ', '-')}"
        )
        for n in names
    ]
    with live_stack.db.session() as session:
        session.add_all(rows)
