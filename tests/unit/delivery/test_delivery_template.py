"""Push templates: syntax, typo detection, columns, substitution, URL-encoding and the host allow-list."""

from __future__ import annotations

import pytest

from engine.push.template import (
    PushTemplate,
    TemplateError,
    check_columns,
    link_problem,
    missing_columns,
    render,
    template_problems,
    validate,
)

HOSTS = ("tradeblock.us",)
LINK = "https://tradeblock.us/product/collectors-have?productVariantId=[[var:variantID]]"


def push(
    title: str = "Hi [[var:firstName]]",
    body: str = "Size [[var:usersize]] is in",
    deep_link: str | None = LINK,
    layer: int = 3,
) -> PushTemplate:
    return PushTemplate(title=title, body=body, deep_link=deep_link, layer=layer, name="t")


def test_variables_in_order_of_first_use() -> None:
    template = push(
        title="[[var:b]] [[var:a]]", body="[[var:a]] [[var:c]]", deep_link="https://tradeblock.us/[[var:b]]"
    )
    assert template.variables() == ("b", "a", "c")


@pytest.mark.parametrize(
    "bad",
    [
        "[[vra:firstName]]",
        "[[va:firstName]]",
        "[[v:firstName]]",
        "[[VAR:firstName]]",
        "[[var:first name]]",
        "[[var:firstName]",
        "[[var:]]",
        "[[var:1st]]",
    ],
)
def test_malformed_variables_are_errors(bad: str) -> None:
    with pytest.raises(TemplateError) as info:
        validate(push(body=f"Hello {bad}!"), HOSTS)
    assert "malformed variable" in info.value.message
    assert info.value.exit_code == 2


def test_every_problem_is_reported_at_once() -> None:
    template = push(title="[[vra:a]]", body="", deep_link="https://evil.example/[[v:x]]")
    with pytest.raises(TemplateError) as info:
        validate(template, HOSTS)
    message = info.value.message
    assert "body is required" in message
    assert "'[[vra:a]]'" in message and "'[[v:x]]'" in message
    assert "host 'evil.example' is not allowed" in message


@pytest.mark.parametrize("link", [LINK, "https://app.tradeblock.us/p/[[var:variantID]]", "http://tradeblock.us/", None])
def test_valid_template_has_no_problems(link: str | None) -> None:
    # the default push: title and body set, every variable well formed, the link on an allowed host
    # or a subdomain of one (or no link at all); the problem list is checked, not just "no exception"
    assert template_problems(push(deep_link=link), HOSTS) == []
    # the same push with another allow-list: exactly one problem, on the link (so the check above is live)
    fields = [field for field, _ in template_problems(push(deep_link=link), ("example.com",))]
    assert fields == ([] if link is None else ["deep_link"])


def test_missing_columns_named_with_near_misses() -> None:
    with pytest.raises(TemplateError) as info:
        check_columns(push(), ["user_id", "firstname", "variantID"], "x.csv")
    # usersize is absent entirely; firstName differs from the header only by case
    assert "firstName (did you mean firstname?)" in info.value.message
    assert "usersize" in info.value.message
    assert "user_id, firstname, variantID" in (info.value.hint or "")


def test_columns_are_case_sensitive_and_exact() -> None:
    # push() uses firstName, usersize and variantID, in that order of first use
    assert missing_columns(push(), ["user_id", "firstName", "usersize", "variantID"]) == []
    assert missing_columns(push(), ["user_id", "firstname", "usersize", "variantid"]) == ["firstName", "variantID"]
    assert missing_columns(push(), ["firstName ", "usersize", "variantID"]) == ["firstName"]  # no trimming


def test_render_substitutes_plain_text_and_encodes_the_link() -> None:
    values = {"firstName": "Zoë & Co", "usersize": "10.5", "variantID": "a b&c=d/é?#%"}
    rendered, reason = render(push(), values, HOSTS)
    assert reason is None and rendered is not None
    assert rendered.title == "Hi Zoë & Co"  # title and body are not encoded
    assert rendered.body == "Size 10.5 is in"
    # by hand: space %20, & %26, = %3D, / %2F, é (UTF-8 c3 a9) %C3%A9, ? %3F, # %23, % %25
    assert rendered.link == (
        "https://tradeblock.us/product/collectors-have?productVariantId=a%20b%26c%3Dd%2F%C3%A9%3F%23%25"
    )


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_value_skips_the_row_with_its_column(value: str | None) -> None:
    values = {"firstName": "Ann", "usersize": value, "variantID": "v1"}
    assert render(push(), values, HOSTS) == (None, "missing_value:usersize")


def test_a_value_holding_a_placeholder_is_never_sent_literally() -> None:
    values = {"firstName": "[[var:usersize]]", "usersize": "9", "variantID": "v"}
    assert render(push(), values, HOSTS) == (None, "literal_placeholder")


def test_rendered_link_host_is_checked_again() -> None:
    template = push(deep_link="https://[[var:sub]].tradeblock.us/x")
    validate(template, HOSTS)  # the raw template is fine: sub.tradeblock.us
    ok, reason = render(template, {"firstName": "a", "usersize": "1", "sub": "app"}, HOSTS)
    assert reason is None and ok is not None and ok.link == "https://app.tradeblock.us/x"
    # encoded, a value cannot move the host; it can still make it an invalid name
    assert render(template, {"firstName": "a", "usersize": "1", "sub": "ev il"}, HOSTS) == (None, "deep_link_host")


def test_rendered_link_can_leave_the_allowed_domain() -> None:
    template = push(deep_link="https://tradeblock.u[[var:s]]/x")  # raw check sees tradeblock.us
    validate(template, HOSTS)
    values = {"firstName": "a", "usersize": "1", "s": "k"}  # renders tradeblock.uk
    assert render(template, values, HOSTS) == (None, "deep_link_host")


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://tradeblock.us/a", True),
        ("https://TradeBlock.US./a", True),
        ("https://app.tradeblock.us/a?x=1", True),
        ("http://tradeblock.us:8443/a", True),
        ("https://eviltradeblock.us/a", False),
        ("https://tradeblock.us.evil.com/a", False),
        ("https://tradeblock.us@evil.com/a", False),
        ("ftp://tradeblock.us/a", False),
        ("/product/1", False),
        ("tradeblock://product/1", False),
    ],
)
def test_host_allow_list(url: str, allowed: bool) -> None:
    assert (link_problem(url, HOSTS) is None) is allowed


def test_variable_as_the_whole_host_is_rejected() -> None:
    with pytest.raises(TemplateError, match="host 'host' is not allowed"):
        validate(push(deep_link="https://[[var:host]]/x"), HOSTS)


def test_fingerprint_changes_with_content_and_layer() -> None:
    assert push().fingerprint() == push().fingerprint()
    assert push().fingerprint() != push(body="other").fingerprint()
    assert push().fingerprint() != push(layer=2).fingerprint()
