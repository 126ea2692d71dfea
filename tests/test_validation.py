from hypothesis import given
from hypothesis import strategies as st

from dashboard.validation import (
    GENERATED_EXTERNAL_ID_PREFIX,
    MAX_EMAILS,
    domain_display,
    domain_parse,
    domains_parse,
    email_key,
    emails_parse,
    external_id_parse,
    features_parse,
    name_parse,
    organization_input,
)


def test_domains_are_split_on_lines_commas_and_spaces_and_lowered() -> None:
    domains, error = domains_parse("Example.COM, acme.io\nfoo.example.org  bar.dev.")

    assert error is None
    assert domains == ["example.com", "acme.io", "foo.example.org", "bar.dev"]


def test_internationalised_domains_become_a_labels() -> None:
    domains, error = domains_parse("Bücher.de\nxn--bcher-kva.ch")

    assert error is None
    assert domains == ["xn--bcher-kva.de", "xn--bcher-kva.ch"]
    assert domain_display("xn--bcher-kva.de") == "bücher.de"


def test_duplicate_domains_are_reported_once_even_across_spellings() -> None:
    domains, error = domains_parse("bücher.de xn--bcher-kva.de BÜCHER.DE")

    assert domains == ["xn--bcher-kva.de"]
    assert error == "“xn--bcher-kva.de” is listed twice."


def test_bad_domains_are_each_named() -> None:
    _, error = domains_parse(
        "a_b.com localhost https://x.com/ *.acme.io -a.com 1.2.3.4"
    )

    assert error is not None
    assert "“a_b.com” is not a valid domain name" in error
    assert "“localhost” needs a dot" in error
    assert "“https://x.com/” is not a domain" in error
    assert "“*.acme.io” is a wildcard" in error
    assert "“-a.com” is not a valid domain name" in error
    assert "“1.2.3.4” does not end in a top-level domain" in error


def test_too_many_domains_are_refused() -> None:
    _, error = domains_parse(" ".join(f"d{i}.com" for i in range(4)), maximum=3)

    assert error == "At most 3 domains, 4 were given."


def test_an_overlong_domain_is_refused() -> None:
    _, error = domain_parse(".".join(["a" * 60] * 5) + ".com")

    assert error is not None
    assert "too long" in error


def test_required_domains_must_not_be_blank() -> None:
    assert domains_parse("  ", required=True) == ([], "Enter at least one domain.")
    assert domains_parse("  ") == ([], None)


def test_emails_are_checked_and_keyed_case_insensitively() -> None:
    emails, error = emails_parse("Ann@Example.com; bob@bücher.de")

    assert error is None
    assert [e.address for e in emails] == ["Ann@example.com", "bob@bücher.de"]
    assert [e.key for e in emails] == ["ann@example.com", "bob@xn--bcher-kva.de"]


def test_duplicate_emails_differing_in_case_are_reported() -> None:
    emails, error = emails_parse("ann@example.com\nANN@example.com")

    assert len(emails) == 1
    assert error == "“ANN@example.com” is listed twice."


def test_bad_emails_are_named() -> None:
    _, error = emails_parse("ann@example.com, not-an-email")

    assert error is not None
    assert error.startswith("“not-an-email” is not an email address")


def test_at_most_twenty_emails() -> None:
    text = "\n".join(f"a{i}@example.com" for i in range(MAX_EMAILS + 1))

    _, error = emails_parse(text)

    assert (
        error == f"At most {MAX_EMAILS} email addresses, {MAX_EMAILS + 1} were given."
    )


def test_at_least_one_email_when_required() -> None:
    assert emails_parse("", required=True)[1] == "Enter at least one email address."
    assert emails_parse("", required=False) == ([], None)


def test_email_key_matches_across_spellings() -> None:
    assert email_key("Bob@BÜCHER.de") == email_key("bob@xn--bcher-kva.de")
    assert email_key("nope") is None


def test_features_keep_the_catalogue_order_and_refuse_unknown_ones() -> None:
    assert features_parse(["dsync", "sso"]) == (["sso", "dsync"], None)
    assert features_parse(["sso", "teleport"])[1] == (
        "Unknown feature “teleport”: pick from the list"
    )
    assert features_parse([], required=True)[1] == "Pick at least one feature"


def test_names_are_trimmed_and_checked() -> None:
    assert name_parse("  Acme   Corp ") == ("Acme Corp", None)
    assert name_parse("")[1] == "Enter the organization's name"
    assert name_parse("x" * 201)[1] == "At most 200 characters, 201 were given"
    assert name_parse("bad\u0000name")[1] is not None


def test_external_ids_are_optional_and_free_of_spaces() -> None:
    assert external_id_parse("  crm-42 ") == ("crm-42", None)
    assert external_id_parse("") == ("", None)
    assert external_id_parse("has space")[1] is not None


def test_organization_input_collects_errors_per_field_and_keeps_values() -> None:
    data = organization_input(
        name="", external_id="bad id", domains="x", emails="nope", features=["zz"]
    )

    assert set(data.errors) == {"name", "external_id", "domains", "emails", "features"}
    assert data.form["domains"] == "x"
    assert data.form["features"] == ["zz"]


def test_organization_input_needs_a_feature_when_inviting() -> None:
    data = organization_input(name="Acme", emails="it@acme.test")

    assert data.errors == {
        "features": "Pick at least one feature for the IT admins to set up"
    }


def test_blank_external_id_gets_a_generated_one_that_a_retry_reuses() -> None:
    first = organization_input(name="Acme")

    retry = organization_input(
        name="Acme", generated_external_id=first.external_id_generated
    )

    assert first.valid
    assert first.effective_external_id.startswith(GENERATED_EXTERNAL_ID_PREFIX)
    assert retry.effective_external_id == first.effective_external_id
    assert (
        organization_input(name="Acme", external_id="crm-1").effective_external_id
        == "crm-1"
    )


def test_a_forged_generated_id_is_replaced() -> None:
    data = organization_input(name="Acme", generated_external_id="someone-else")

    assert data.effective_external_id.startswith(GENERATED_EXTERNAL_ID_PREFIX)


@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    domains_parse(text)
    emails_parse(text)
    name_parse(text)
    external_id_parse(text)
    features_parse([text])
    email_key(text)
    organization_input(
        name=text,
        external_id=text,
        domains=text,
        emails=text,
        features=[text],
        generated_external_id=text,
    )


@given(st.lists(st.from_regex(r"[a-z0-9]{1,10}\.(com|de|io)", fullmatch=True)))
def test_valid_domains_round_trip(names: list[str]) -> None:
    unique = list(dict.fromkeys(names))[:50]

    domains, error = domains_parse("\n".join(unique))

    assert error is None
    assert domains == unique
