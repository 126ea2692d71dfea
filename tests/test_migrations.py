from dashboard.migrations import check, pending


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)


def test_test_database_is_at_head(database_url: str) -> None:
    assert pending(database_url) == []
