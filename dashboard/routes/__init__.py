"""Every URL of the app, in one table: path, endpoint, methods, name."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dashboard.routes import (
    auth,
    dev,
    health,
    imports,
    organizations,
    progress,
    settings_page,
    setup,
    setup_links,
    webhooks,
)
from dashboard.templating import STATIC_DIR


def app_routes(*, development: bool, dev_mailbox: bool = False) -> list[BaseRoute]:
    """The routes of `serve`; `development` adds the ones only `dashboard dev` has."""
    # One route per line, so the table reads at a glance.
    # fmt: off
    routes: list[BaseRoute] = [
        # Health and staff sign-in
        Route("/healthz", health.healthz, methods=["GET"], name="healthz"),
        Route("/", auth.home, methods=["GET"], name="home"),
        Route("/auth/login", auth.login_page, methods=["GET"], name="login"),
        Route("/auth/login", auth.login_start, methods=["POST"], name="login_start"),
        Route("/auth/callback", auth.callback, methods=["GET"], name="auth_callback"),
        Route("/auth/logout", auth.logout, methods=["POST"], name="logout"),
        # Organizations (staff)
        Route("/orgs", organizations.organization_list_page, methods=["GET"], name="orgs"),
        Route("/orgs", organizations.organization_create_submit, methods=["POST"], name="org_create"),
        Route("/orgs/new", organizations.organization_new_page, methods=["GET"], name="org_new"),
        Route("/orgs/import", imports.import_page, methods=["GET"], name="import_new"),
        Route("/orgs/import", imports.import_submit, methods=["POST"], name="import_submit"),
        Route("/orgs/import/{job_id:int}", imports.import_job_page, methods=["GET"], name="import_job"),
        Route("/orgs/import/{job_id:int}/results.csv", imports.import_job_results, methods=["GET"], name="import_results"),
        Route("/orgs/{organization_id:int}", organizations.organization_page, methods=["GET"], name="org"),
        Route("/orgs/{organization_id:int}/domains", organizations.domain_add_submit, methods=["POST"], name="org_domain_add"),
        Route("/orgs/{organization_id:int}/domains/{domain_id:int}/delete", organizations.domain_remove_submit, methods=["POST"], name="org_domain_remove"),
        Route("/orgs/{organization_id:int}/features", organizations.features_submit, methods=["POST"], name="org_features"),
        Route("/orgs/{organization_id:int}/delete", organizations.organization_delete_submit, methods=["POST"], name="org_delete"),
        Route("/orgs/{organization_id:int}/restore", organizations.organization_restore_submit, methods=["POST"], name="org_restore"),
        Route("/orgs/{organization_id:int}/purge", organizations.organization_purge_submit, methods=["POST"], name="org_purge"),
        Route("/activity", organizations.activity_page, methods=["GET"], name="activity"),
        # Invites and the email outbox (staff)
        Route("/orgs/{organization_id:int}/invite", setup_links.setup_link_page, methods=["GET"], name="setup_link_page"),
        Route("/orgs/{organization_id:int}/invite", setup_links.setup_link_invite, methods=["POST"], name="setup_link_invite"),
        Route("/orgs/{organization_id:int}/invite/resend", setup_links.setup_link_resend, methods=["POST"], name="setup_link_resend"),
        Route("/orgs/{organization_id:int}/invite/revoke", setup_links.setup_link_revoke, methods=["POST"], name="setup_link_revoke"),
        Route("/orgs/{organization_id:int}/emails/{email_id:int}/retry", setup_links.outbox_email_retry, methods=["POST"], name="outbox_email_retry"),
        # Progress (staff)
        Route("/orgs/{organization_id:int}/progress", progress.organization_progress, methods=["GET"], name="org_progress"),
        Route("/orgs/{organization_id:int}/reminders", progress.reminder_submit, methods=["POST"], name="org_reminder"),
        # Operators
        Route("/settings", settings_page.settings_page, methods=["GET"], name="settings"),
        # The IT admin's setup flow
        Route("/setup/callback/{provider}", setup.setup_callback, methods=["GET"], name="setup_callback"),
        Route("/setup/{token}", setup.setup_page, methods=["GET"], name="setup_page"),
        Route("/setup/{token}/sign-in", setup.setup_sign_in, methods=["POST"], name="setup_sign_in"),
        Route("/setup/{token}/sign-out", setup.setup_sign_out, methods=["POST"], name="setup_sign_out"),
        Route("/setup/{token}/portal/{intent}", setup.setup_portal, methods=["POST"], name="setup_portal"),
        # WorkOS events
        Route("/webhooks/workos", webhooks.workos_webhook, methods=["POST"], name="workos_webhook"),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    # fmt: on
    if dev_mailbox:
        # Shows setup URLs: only under `dashboard dev`, never in `serve`.
        routes.append(
            Route("/dev/mail", dev.dev_mail, methods=["GET"], name="dev_mail")
        )
    return routes
