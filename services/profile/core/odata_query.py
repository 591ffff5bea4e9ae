"""OData query options, checked against an entity set: what the caller asked for, or why it cannot be had.

``$filter`` is parsed by odata-query; the tree is then rebuilt as this module's own small, typed
expression (a property compared with a literal of its type, a text match, and/or/not). Nothing else gets
through: a function other than contains/startswith/endswith, a comparison between two properties, an
unknown property, a literal of the wrong type, a tree deeper or larger than the bounds — each is a
:class:`ODataQueryError` (400), never a query the database sees.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser
from sly.lex import LexError

from services.profile.core.odata_model import EdmType, EntitySet, Property

MAX_PAGE = 2_000  # rows per response (Salesforce's own cap)
MAX_SKIP = 1_000_000
MAX_FILTER_LENGTH = 4_000
MAX_LITERAL_LENGTH = 500
MAX_DEPTH = 16
MAX_NODES = 200
MAX_SEARCH_LENGTH = 100
MAX_ORDER_KEYS = 4
_OPTIONS = frozenset(
    {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$search", "$format"}
)

Literal = str | int | Decimal | bool | datetime | None
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() also takes "\u00b2", which int() refuses
_INT_RANGES = {EdmType.INT32: 2**31, EdmType.INT64: 2**63}


class ODataQueryError(ValueError):
    """A query option that cannot be served; the message names the option, never echoes user text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


class TextHow(StrEnum):
    CONTAINS = "contains"
    STARTS = "startswith"
    ENDS = "endswith"


@dataclass(frozen=True)
class Comparison:
    prop: Property
    op: Op
    value: Literal


@dataclass(frozen=True)
class Membership:
    prop: Property
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class TextMatch:
    prop: Property
    how: TextHow
    text: str


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Negation:
    part: Filter


Filter = Comparison | Membership | TextMatch | AllOf | AnyOf | Negation


@dataclass(frozen=True)
class ODataQuery:
    entity_set: EntitySet
    filter: Filter | None = None
    search: str | None = None
    select: tuple[str, ...] = ()  # empty: every property
    orderby: tuple[tuple[Property, bool], ...] = ()  # (property, descending)
    skip: int = 0
    top: int | None = None
    count: bool = False
    offset: int = 0  # where this page starts: $skip, or where the previous page ended ($skiptoken)
    max_page: int = MAX_PAGE  # the server's page size

    @property
    def page_size(self) -> int:
        """Rows to read for this page."""
        if self.top is None:
            return self.max_page
        return max(0, min(self.max_page, self.skip + self.top - self.offset))

    @property
    def end(self) -> int | None:
        return None if self.top is None else self.skip + self.top


_FLIPPED = {Op.GT: Op.LT, Op.GE: Op.LE, Op.LT: Op.GT, Op.LE: Op.GE, Op.EQ: Op.EQ, Op.NE: Op.NE}
_OPS: Mapping[type[ast._Node], Op] = {
    ast.Eq: Op.EQ,
    ast.NotEq: Op.NE,
    ast.Gt: Op.GT,
    ast.GtE: Op.GE,
    ast.Lt: Op.LT,
    ast.LtE: Op.LE,
}
_ORDERED = frozenset(
    {
        EdmType.STRING,
        EdmType.GUID,
        EdmType.INT32,
        EdmType.INT64,
        EdmType.DECIMAL,
        EdmType.DOUBLE,
        EdmType.DATETIME,
    }
)


def parse_query(
    entity_set: EntitySet, options: Sequence[tuple[str, str]], *, max_page: int = MAX_PAGE
) -> ODataQuery:
    """The query the options ask for. ``options`` are the request's query parameters, in order."""
    given: dict[str, str] = {}
    for name, value in options:
        if not name.startswith("$"):
            continue  # not an OData option (e.g. api_key)
        if name not in _OPTIONS:
            raise ODataQueryError("NotImplemented", f"The query option {name[:20]} is not supported.")
        if name in given:
            raise ODataQueryError("BadRequest", f"The query option {name} is given twice.")
        given[name] = value
    if given.get("$format", "json") not in {"json", "application/json"}:
        raise ODataQueryError("NotAcceptable", "Only the JSON format is offered.")
    skip = _count_option(given, "$skip", MAX_SKIP) or 0
    return ODataQuery(
        entity_set=entity_set,
        filter=parse_filter(entity_set, given["$filter"]) if "$filter" in given else None,
        search=_search(entity_set, given.get("$search")),
        select=_select(entity_set, given.get("$select")),
        orderby=_orderby(entity_set, given.get("$orderby")),
        skip=skip,
        top=_count_option(given, "$top", None),
        count=_boolean(given.get("$count", "false"), "$count"),
        offset=_skiptoken(given.get("$skiptoken"), skip),
        max_page=max_page,
    )


def skiptoken(offset: int) -> str:
    return f"o{offset}"


def parse_filter(entity_set: EntitySet, text: str) -> Filter:
    if len(text) > MAX_FILTER_LENGTH:
        raise ODataQueryError("BadRequest", f"$filter is longer than {MAX_FILTER_LENGTH} characters.")
    if not text.strip():
        raise ODataQueryError("BadRequest", "$filter is empty.")
    if _paren_depth(text) > MAX_DEPTH:  # the parser folds parentheses away: bound them before parsing
        raise ODataQueryError("BadRequest", f"$filter is nested deeper than {MAX_DEPTH}.")
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(text))
    except (ODataException, LexError, RecursionError):
        raise ODataQueryError("BadRequest", "$filter is not a valid OData expression.") from None
    if tree is None:
        raise ODataQueryError("BadRequest", "$filter is not a valid OData expression.")
    return _Builder(entity_set).boolean(tree, 0)


def _paren_depth(text: str) -> int:
    """The deepest parenthesis nesting outside string literals ('' inside a literal is a quote)."""
    depth = deepest = 0
    in_literal = False
    for char in text:
        if char == "'":
            in_literal = not in_literal
        elif not in_literal and char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_literal and char == ")":
            depth -= 1
    return deepest


class _Builder:
    def __init__(self, entity_set: EntitySet) -> None:
        self._set = entity_set
        self._nodes = 0

    def boolean(self, node: ast._Node, depth: int) -> Filter:
        self._nodes += 1
        if depth > MAX_DEPTH or self._nodes > MAX_NODES:
            raise ODataQueryError("BadRequest", f"$filter is nested deeper than {MAX_DEPTH} or too large.")
        if isinstance(node, ast.BoolOp):
            # A chain of one operator (a or b or c ...) is one level however long: the parser nests it.
            def level(operand: ast._Node) -> int:
                chained = isinstance(operand, ast.BoolOp) and type(operand.op) is type(node.op)
                return depth if chained else depth + 1

            left = self.boolean(node.left, level(node.left))
            right = self.boolean(node.right, level(node.right))
            if isinstance(node.op, ast.And):
                return AllOf(_flat(AllOf, left, right))
            return AnyOf(_flat(AnyOf, left, right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return Negation(self.boolean(node.operand, depth + 1))
        if isinstance(node, ast.Call):
            return self._text_match(node)
        if isinstance(node, ast.Identifier):
            prop = self._property(node)
            if prop.type is not EdmType.BOOLEAN:
                raise ODataQueryError("BadRequest", f"{prop.name} is not a Boolean property.")
            return Comparison(prop, Op.EQ, True)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        raise ODataQueryError("BadRequest", "$filter must be a condition on properties.")

    def _compare(self, node: ast.Compare) -> Filter:
        if isinstance(node.comparator, ast.In):
            if not isinstance(node.left, ast.Identifier) or not isinstance(node.right, ast.List):
                raise ODataQueryError("BadRequest", "'in' compares a property with a list of literals.")
            prop = self._property(node.left)
            if not node.right.val or len(node.right.val) > 100:
                raise ODataQueryError("BadRequest", "'in' takes 1 to 100 literals.")
            return Membership(prop, tuple(_literal(prop, item) for item in node.right.val))
        op = _OPS.get(type(node.comparator))
        if op is None:
            raise ODataQueryError("BadRequest", "Unsupported comparison operator.")
        left, right = node.left, node.right
        if isinstance(left, ast.Call) and isinstance(right, ast.Boolean) and op in {Op.EQ, Op.NE}:
            match = self._text_match(left)  # contains(Name,'x') eq true: how Salesforce searches
            return match if (right.val.lower() == "true") == (op is Op.EQ) else Negation(match)
        for side in (left, right):
            if isinstance(side, ast.Call) and side.func.name.lower() not in {how.value for how in TextHow}:
                raise _unsupported_function()
        if not isinstance(left, ast.Identifier) and isinstance(right, ast.Identifier):
            left, right, op = right, left, _FLIPPED[op]
        if not isinstance(left, ast.Identifier) or isinstance(right, ast.Identifier | ast.Call):
            raise ODataQueryError("BadRequest", "A comparison is between one property and a literal.")
        prop = self._property(left)
        value = _literal(prop, right)
        if value is None and op not in {Op.EQ, Op.NE}:
            raise ODataQueryError("BadRequest", "null is compared with eq or ne only.")
        if op not in {Op.EQ, Op.NE} and prop.type not in _ORDERED:
            raise ODataQueryError("BadRequest", f"{prop.name} is compared with eq or ne only.")
        return Comparison(prop, op, value)

    def _text_match(self, node: ast.Call) -> TextMatch:
        name = node.func.name.lower()
        if name not in {how.value for how in TextHow}:
            raise _unsupported_function()
        if len(node.args) != 2 or not isinstance(node.args[0], ast.Identifier):
            raise ODataQueryError("BadRequest", f"{name} takes a property and a text.")
        prop = self._property(node.args[0])
        text = node.args[1]
        if prop.type is not EdmType.STRING or not isinstance(text, ast.String):
            raise ODataQueryError("BadRequest", f"{name} applies to a text property and a text literal.")
        return TextMatch(prop, TextHow(name), _bounded(text.val))

    def _property(self, node: ast.Identifier) -> Property:
        prop = self._set.lookup(node.name) if not node.namespace else None
        if prop is None:
            raise ODataQueryError("BadRequest", f"{self._set.type_name} has no such property.")
        return prop


def _unsupported_function() -> ODataQueryError:
    return ODataQueryError("BadRequest", "Unsupported function: use contains, startswith or endswith.")


def _flat(kind: type[AllOf] | type[AnyOf], *parts: Filter) -> tuple[Filter, ...]:
    out: list[Filter] = []
    for part in parts:
        out.extend(part.parts if isinstance(part, kind) else (part,))
    return tuple(out)


def _literal(prop: Property, node: ast._Node) -> Literal:  # noqa: PLR0911 - one return per type
    if isinstance(node, ast.Null):
        return None
    mismatch = ODataQueryError("BadRequest", f"{prop.name} is {prop.type.value}: the literal does not fit.")
    match prop.type:
        case EdmType.STRING if isinstance(node, ast.String):
            return _bounded(node.val)
        case EdmType.GUID if isinstance(node, ast.GUID | ast.String):
            try:
                return str(uuid.UUID(_bounded(node.val)))
            except ValueError:
                raise mismatch from None
        case EdmType.BOOLEAN if isinstance(node, ast.Boolean):
            return node.val.lower() == "true"
        case EdmType.INT32 | EdmType.INT64 if isinstance(node, ast.Integer):
            number = int(_bounded(node.val))
            if not -_INT_RANGES[prop.type] <= number < _INT_RANGES[prop.type]:
                raise mismatch
            return number
        case EdmType.DECIMAL | EdmType.DOUBLE if isinstance(node, ast.Integer | ast.Float):
            try:
                return Decimal(_bounded(node.val))
            except InvalidOperation:
                raise mismatch from None
        case EdmType.DATETIME if isinstance(node, ast.DateTime):
            try:
                instant = node.py_val
                if instant.tzinfo is None:
                    raise mismatch
                return instant.astimezone(UTC)  # an instant past year 9999 in UTC overflows here
            except (ValueError, OverflowError):
                raise mismatch from None
    raise mismatch


def _bounded(text: str) -> str:
    if len(text) > MAX_LITERAL_LENGTH:
        raise ODataQueryError("BadRequest", f"A literal is longer than {MAX_LITERAL_LENGTH} characters.")
    if "\x00" in text:
        raise ODataQueryError("BadRequest", "A literal holds a NUL character.")
    return text


def _count_option(given: Mapping[str, str], name: str, maximum: int | None) -> int | None:
    if name not in given:
        return None
    text = given[name]
    if not _DIGITS.fullmatch(text) or (maximum is not None and int(text) > maximum):
        raise ODataQueryError(
            "BadRequest", f"{name} must be a whole number from 0 to {maximum or 999_999_999}."
        )
    return int(text)


def _boolean(text: str, name: str) -> bool:
    if text not in {"true", "false"}:
        raise ODataQueryError("BadRequest", f"{name} must be true or false.")
    return text == "true"


def _search(entity_set: EntitySet, text: str | None) -> str | None:
    if text is None:
        return None
    if not any(p.searchable for p in entity_set.properties):
        raise ODataQueryError("BadRequest", f"{entity_set.name} cannot be searched: use $filter.")
    term = text.strip().strip('"').strip()
    if not term or len(term) > MAX_SEARCH_LENGTH or "\x00" in term:
        raise ODataQueryError("BadRequest", f"$search takes 1 to {MAX_SEARCH_LENGTH} characters.")
    return term


def _select(entity_set: EntitySet, text: str | None) -> tuple[str, ...]:
    if text is None or text.strip() == "*":
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    if any(entity_set.lookup(name) is None for name in names):
        raise ODataQueryError("BadRequest", f"$select names a property {entity_set.type_name} does not have.")
    return names


def _orderby(entity_set: EntitySet, text: str | None) -> tuple[tuple[Property, bool], ...]:
    if text is None:
        return ()
    keys: list[tuple[Property, bool]] = []
    for part in text.split(","):
        words = part.split()
        prop = entity_set.lookup(words[0]) if words else None
        if prop is None or len(words) > 2 or (len(words) == 2 and words[1].lower() not in {"asc", "desc"}):
            raise ODataQueryError("BadRequest", "$orderby is a list of 'Property [asc|desc]'.")
        if not prop.sortable:
            raise ODataQueryError(
                "BadRequest", f"{prop.name} holds one of several values: it cannot order rows."
            )
        keys.append((prop, len(words) == 2 and words[1].lower() == "desc"))
    if len(keys) > MAX_ORDER_KEYS:
        raise ODataQueryError("BadRequest", f"$orderby takes at most {MAX_ORDER_KEYS} properties.")
    return tuple(keys)


def _skiptoken(text: str | None, skip: int) -> int:
    if text is None:
        return skip
    digits = text[1:]
    if not text.startswith("o") or not _DIGITS.fullmatch(digits) or int(digits) < skip:
        raise ODataQueryError("BadRequest", "$skiptoken is not one this service issued.")
    return int(digits)
