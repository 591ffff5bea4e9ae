"""OData query options checked against the model, and the MongoDB filters they become (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.profile.adapters.outbound.odata_sources import SOURCES, mongo_filter
from services.profile.core.odata_model import (
    ALLOWED_TYPES,
    CASES,
    CUSTOMERS,
    ENTITY_SETS,
    INTERACTIONS,
    EdmType,
    EntitySet,
    Property,
    csdl,
)
from services.profile.core.odata_query import (
    MAX_PAGE,
    AllOf,
    AnyOf,
    Comparison,
    Negation,
    ODataQueryError,
    Op,
    TextHow,
    TextMatch,
    parse_filter,
    parse_query,
)

CUSTOMER_SOURCE = SOURCES["Customers"]


def prop(name: str) -> Property:
    found = CUSTOMERS.lookup(name)
    assert found is not None
    return found


def test_the_salesforce_search_form_is_a_text_match() -> None:
    expression = parse_filter(CUSTOMERS, "contains(Name,'ola') eq true")
    assert expression == TextMatch(prop("Name"), TextHow.CONTAINS, "ola")
    assert parse_filter(CUSTOMERS, "contains(Name,'ola') eq false") == Negation(expression)
    assert parse_filter(CUSTOMERS, "contains(Name,'ola') ne true") == Negation(expression)


def test_literals_take_the_type_of_their_property() -> None:
    guid = uuid.uuid4()
    assert parse_filter(CUSTOMERS, f"Id eq {guid}") == Comparison(prop("Id"), Op.EQ, str(guid))
    assert parse_filter(CUSTOMERS, f"Id eq '{str(guid).upper()}'") == Comparison(prop("Id"), Op.EQ, str(guid))
    assert parse_filter(CUSTOMERS, "HistoricValue ge 10") == Comparison(
        prop("HistoricValue"), Op.GE, Decimal(10)
    )
    assert parse_filter(CUSTOMERS, "LastSeen lt 2026-11-24T10:00:00+01:00") == Comparison(
        prop("LastSeen"), Op.LT, datetime(2026, 11, 24, 9, tzinfo=UTC)
    )
    assert parse_filter(CUSTOMERS, "NeedsRecovery") == Comparison(prop("NeedsRecovery"), Op.EQ, True)
    assert parse_filter(CUSTOMERS, "'gold' eq Tier") == Comparison(prop("Tier"), Op.EQ, "gold")
    assert parse_filter(CUSTOMERS, "10 lt HistoricValue") == Comparison(
        prop("HistoricValue"), Op.GT, Decimal(10)
    )


def test_and_or_flatten_and_not_wraps() -> None:
    expression = parse_filter(CUSTOMERS, "Tier eq 'a' and (Tier eq 'b' and not (Tier eq 'c' or Tier eq 'd'))")
    assert isinstance(expression, AllOf)
    assert len(expression.parts) == 3
    assert isinstance(expression.parts[2], Negation)
    assert isinstance(expression.parts[2].part, AnyOf)


@pytest.mark.parametrize(
    "text",
    [
        "Name eq 1",
        "Id eq 'x'",
        "LastSeen gt 2026-11-24",
        "LastSeen gt 2026-11-24T10:00:00",  # no offset: which instant?
        "Tier gt null",
        "NeedsRecovery lt false",
        "Tier eq Name",
        "length(Name) gt 2",
        "contains(Tier, 3)",
        "contains(HistoricValue, '3')",
        "Tier/x eq 'a'",
        "Tier in ()",
        "Helhet.Tier eq 'a'",
        "Tier add 1 eq 2",
    ],
)
def test_what_cannot_be_served_is_an_error_not_a_query(text: str) -> None:
    with pytest.raises(ODataQueryError):
        parse_filter(CUSTOMERS, text)


def test_bounds_on_size_depth_and_literals() -> None:
    with pytest.raises(ODataQueryError, match="deeper"):
        parse_filter(CUSTOMERS, "(" * 20 + "Tier eq 'a'" + ")" * 20)
    assert parse_filter(CUSTOMERS, "Name eq '((((((((((((((((((((('")  # parentheses in a literal are text
    with pytest.raises(ODataQueryError, match="literal"):
        parse_filter(CUSTOMERS, f"Name eq '{'a' * 501}'")
    with pytest.raises(ODataQueryError):
        parse_filter(CUSTOMERS, " or ".join(["Tier eq 'a'"] * 201))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_either_parses_or_is_a_query_error(text: str) -> None:
    try:
        expression = parse_filter(CUSTOMERS, text)
    except ODataQueryError:
        return
    mongo_filter(CUSTOMER_SOURCE, expression)  # and a parsed one always translates


def test_options_paging_and_server_page_size() -> None:
    query = parse_query(CUSTOMERS, [("$top", "26"), ("$skip", "4"), ("api_key", "ignored")])
    assert (query.offset, query.page_size, query.end) == (4, 26, 30)
    assert parse_query(CUSTOMERS, []).page_size == MAX_PAGE
    assert parse_query(CUSTOMERS, [("$top", "5000")]).page_size == MAX_PAGE
    resumed = parse_query(CUSTOMERS, [("$top", "30"), ("$skiptoken", "o20")], max_page=5)
    assert (resumed.offset, resumed.page_size) == (20, 5)
    assert parse_query(CUSTOMERS, [("$top", "30"), ("$skiptoken", "o28")]).page_size == 2
    with pytest.raises(ODataQueryError):
        parse_query(CUSTOMERS, [("$top", "1"), ("$top", "2")])
    with pytest.raises(ODataQueryError):
        parse_query(CUSTOMERS, [("$skip", "10"), ("$skiptoken", "o5")])  # a token before the skip
    with pytest.raises(ODataQueryError):
        parse_query(CUSTOMERS, [("$apply", "groupby((Tier))")])


def test_select_orderby_search_and_count() -> None:
    query = parse_query(
        CUSTOMERS,
        [
            ("$select", "Id, Email"),
            ("$orderby", "LastSeen desc,Name"),
            ("$search", '"ola"'),
            ("$count", "true"),
        ],
    )
    assert query.select == ("Id", "Email")
    assert [(p.name, descending) for p, descending in query.orderby] == [("LastSeen", True), ("Name", False)]
    assert (query.search, query.count) == ("ola", True)


def test_text_matches_escape_regex_metacharacters_and_ignore_case() -> None:
    translated = mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "startswith(Name,'a.*(b')"))
    assert translated == {"attributes.name.value": {"$regex": r"^a\.\*\(b", "$options": "i"}}


def test_identifier_properties_match_any_identifier_of_their_kind() -> None:
    assert mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "Email eq 'Ola@Example.no'")) == {
        "identifiers": {"$elemMatch": {"kind": "email", "value": {"$eq": "ola@example.no"}}}
    }
    assert mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "Phone eq null")) == {
        "identifiers.kind": {"$ne": "phone"}
    }
    assert mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "Phone ne null")) == {
        "$nor": [{"identifiers.kind": {"$ne": "phone"}}]
    }


def test_amounts_and_instants_are_compared_as_stored() -> None:
    assert mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "HistoricValue gt 10.5")) == {
        "summary.historic_value_amount": {"$gt": 10.5}
    }
    at = mongo_filter(CUSTOMER_SOURCE, parse_filter(CUSTOMERS, "LastSeen ge 2026-11-24T10:00:00.1234567Z"))
    assert at == {"last_seen": {"$gte": datetime(2026, 11, 24, 10, 0, 0, 123000, tzinfo=UTC)}}


def test_a_reopened_case_is_one_with_reopening_answers() -> None:
    source = SOURCES["Cases"]
    assert mongo_filter(source, parse_filter(CASES, "Reopened eq true")) == {
        "cases.reopened_by.0": {"$exists": True}
    }
    assert mongo_filter(source, parse_filter(CASES, "Reopened")) == {"cases.reopened_by.0": {"$exists": True}}


def test_every_property_of_every_set_maps_to_a_stored_field_and_a_row_value() -> None:
    for entity_set in ENTITY_SETS.values():
        assert set(SOURCES[entity_set.name].fields) == set(entity_set.names)
        key = entity_set.lookup(entity_set.key)
        assert key is not None
        assert key.type is EdmType.GUID


def test_the_csdl_declares_only_allowed_types() -> None:
    document = csdl()
    for entity_set in ENTITY_SETS.values():
        for p in entity_set.properties:
            assert p.type in ALLOWED_TYPES
            assert f'Name="{p.name}" Type="{p.type.value}"' in document


@pytest.mark.parametrize(
    ("entity_set", "options"),
    [
        (CUSTOMERS, [("$top", "\u00b2")]),  # a digit to str.isdigit(), not to int()
        (CUSTOMERS, [("$skip", "\u2460")]),
        (CUSTOMERS, [("$skiptoken", "o\u00b2")]),
        (INTERACTIONS, [("$filter", "Rating eq 100000000000000000000000")]),
        (CUSTOMERS, [("$filter", "FirstSeen eq 9999-12-31T23:59:59-14:00")]),  # past year 9999 in UTC
        (CUSTOMERS, [("$filter", "contains(Name,'a\x00b')")]),
        (CUSTOMERS, [("$search", "a\x00")]),
        (CUSTOMERS, [("$orderby", "Email")]),  # one of several values: no order
    ],
)
def test_inputs_that_once_raised_past_the_checks_are_query_errors(
    entity_set: EntitySet, options: list[tuple[str, str]]
) -> None:
    with pytest.raises(ODataQueryError):
        parse_query(entity_set, options)


def test_a_long_chain_of_one_operator_is_not_deep() -> None:
    ids = [uuid.uuid4() for _ in range(40)]
    expression = parse_filter(CUSTOMERS, " or ".join(f"Id eq {guid}" for guid in ids))
    assert isinstance(expression, AnyOf)
    assert len(expression.parts) == 40
