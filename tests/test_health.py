from starlette.testclient import TestClient


def test_healthz_answers_ok_once_database_answers(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_page_is_a_404_in_the_site_layout(client: TestClient) -> None:
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response.template.name == "errors/error.html"  # type: ignore[attr-defined]
    assert "Page not found" in response.text
    assert "Acme Cloud" in response.text


def test_every_page_carries_a_csp_without_inline_scripts(client: TestClient) -> None:
    response = client.get("/healthz")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_static_files_are_cached_for_a_year(client: TestClient) -> None:
    response = client.get("/static/htmx-2.0.11.min.js")

    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
