"""The expression language of tables.toml: filters (`where`) and formulas (`formula`).

A table definition is content, written by editors, so an expression must never be able to run
code. Expressions are parsed with Python's `ast` module (the syntax editors already read) and
then translated into a small tree of our own; anything outside the grammar is rejected before
any value is computed. The tree is evaluated over numpy arrays here, and other engines can
translate it (to SQL, to Spark) without ever seeing the text.

Grammar (docs/tables.md has examples):

    filter     := condition
    condition  := condition "or" condition | condition "and" condition | "not" condition
                | "(" condition ")" | comparison
    comparison := term (("==" | "!=" | "<" | "<=" | ">" | ">=") term)+
                | NAME ("in" | "not in") "[" constant ("," constant)* "]"
    formula    := term
    term       := term ("+" | "-" | "*" | "/") term | "-" term | "(" term ")" | NAME | constant
    constant   := integer | decimal number | 'text' | "text"

NAME is a dataset column (in a filter) or a column id of the same table (in a formula).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Collection, Mapping, Union

import numpy as np


class ExpressionError(ValueError):
    """An expression outside the grammar; the message names the offending token."""


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Constant:
    value: int | float | str


@dataclass(frozen=True)
class Arithmetic:
    op: str  # + - * /
    left: "Term"
    right: "Term"


@dataclass(frozen=True)
class Negative:
    operand: "Term"


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: "Term"
    right: "Term"


@dataclass(frozen=True)
class Member:
    name: Name
    values: tuple[Constant, ...]
    negated: bool = False  # "not in"


@dataclass(frozen=True)
class Logical:
    op: str  # and, or
    operands: tuple["Condition", ...]


@dataclass(frozen=True)
class Not:
    operand: "Condition"


Term = Union[Name, Constant, Arithmetic, Negative]
Condition = Union[Compare, Member, Logical, Not]

ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
COMPARISON = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
LOGICAL = {ast.And: "and", ast.Or: "or"}


def parse_filter(text: str) -> Condition:
    """A `where` condition; ExpressionError names what is not allowed."""
    return _condition(_parse(text), text)


def parse_formula(text: str) -> Term:
    """A `formula`: arithmetic over column ids and numbers."""
    node = _term(_parse(text), text)
    for constant in constants(node):
        if isinstance(constant.value, str):
            raise ExpressionError(f"text {constant.value!r} in a formula: a formula computes numbers")
    return node


def _parse(text: str) -> ast.expr:
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        at = text.strip()[exc.offset - 1: exc.offset] if exc.offset else ""
        where = f" at {at!r} (character {exc.offset})" if at else ""
        raise ExpressionError(f"not a valid expression{where}: {exc.msg}") from None


def _token(node: ast.AST, text: str) -> str:
    segment = ast.get_source_segment(text.strip(), node)
    return repr(segment) if segment else type(node).__name__


def _forbidden(node: ast.AST, text: str, what: str) -> ExpressionError:
    kinds = {ast.Attribute: "an attribute access", ast.Call: "a function call", ast.Subscript: "an index",
             ast.Lambda: "a lambda", ast.MatMult: "the operator @"}
    kind = next((v for k, v in kinds.items() if isinstance(node, k)), type(node).__name__)
    return ExpressionError(f"{_token(node, text)} is not allowed ({kind}); {what}")


def _condition(node: ast.expr, text: str) -> Condition:
    if isinstance(node, ast.BoolOp):
        return Logical(LOGICAL[type(node.op)], tuple(_condition(v, text) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_condition(node.operand, text))
    if isinstance(node, ast.Compare):
        return _comparison(node, text)
    raise _forbidden(node, text, "expected a condition such as year == 2024 or sex in ['M', 'F']")


def _comparison(node: ast.Compare, text: str) -> Condition:
    parts = []
    left = node.left
    for op, right in zip(node.ops, node.comparators):
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(left, ast.Name) or not isinstance(right, (ast.List, ast.Tuple)) or len(node.ops) > 1:
                raise ExpressionError(f"{_token(node, text)}: 'in' takes a column name and a list such as "
                                      "['M', 'F']")
            values = tuple(_constant(v, text) for v in right.elts)
            if not values:
                raise ExpressionError(f"{_token(node, text)}: the list after 'in' is empty")
            parts.append(Member(_name(left, text), values, isinstance(op, ast.NotIn)))
        elif type(op) in COMPARISON:
            parts.append(Compare(COMPARISON[type(op)], _term(left, text), _term(right, text)))
        else:
            raise ExpressionError(f"{_token(node, text)}: the comparison {type(op).__name__} is not allowed; "
                                  "use ==, !=, <, <=, >, >=, in or not in")
        left = right
    return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))


def _term(node: ast.expr, text: str) -> Term:
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        return Arithmetic(ARITHMETIC[type(node.op)], _term(node.left, text), _term(node.right, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _term(node.operand, text)
        return Negative(operand) if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Name):
        return _name(node, text)
    if isinstance(node, ast.Constant):
        return _constant(node, text)
    if isinstance(node, ast.BinOp):
        raise ExpressionError(f"{_token(node, text)}: the operator {type(node.op).__name__} is not allowed; "
                              "arithmetic is +, -, * and /")
    raise _forbidden(node, text, "expected a column name, a number, a text in quotes or arithmetic")


def _name(node: ast.Name, text: str) -> Name:
    if node.id.startswith("_"):
        raise ExpressionError(f"{node.id!r} is not allowed: names starting with '_' are reserved")
    return Name(node.id)


def _constant(node: ast.expr, text: str) -> Constant:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        inner = _constant(node.operand, text)
        if isinstance(inner.value, str):
            raise ExpressionError(f"{_token(node, text)}: a text cannot be negative")
        return Constant(-inner.value)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, str):
        return Constant(node.value)
    raise _forbidden(node, text, "expected a number or a text in quotes")


# ----------------------------------------------------------------------------------------------
# reading a tree


def walk(node):
    """Every node of a tree, the node itself first."""
    yield node
    children = {Arithmetic: lambda n: (n.left, n.right), Negative: lambda n: (n.operand,),
                Compare: lambda n: (n.left, n.right), Member: lambda n: (n.name, *n.values),
                Logical: lambda n: n.operands, Not: lambda n: (n.operand,)}
    for child in children.get(type(node), lambda n: ())(node):
        yield from walk(child)


def names(node) -> list[str]:
    """The column names an expression reads, in order of appearance, each once."""
    return list(dict.fromkeys(n.id for n in walk(node) if isinstance(n, Name)))


def constants(node) -> list[Constant]:
    return [n for n in walk(node) if isinstance(n, Constant)]


def comparisons(node) -> list[tuple[str, Constant]]:
    """(column, constant) pairs compared directly: the codes a filter names, to check them."""
    out = []
    for n in walk(node):
        if isinstance(n, Member):
            out += [(n.name.id, v) for v in n.values]
        elif isinstance(n, Compare):
            for a, b in ((n.left, n.right), (n.right, n.left)):
                if isinstance(a, Name) and isinstance(b, Constant):
                    out.append((a.id, b))
    return out


# ----------------------------------------------------------------------------------------------
# filtering rows before grouping: what an engine may leave out


def any_of(conditions) -> Condition | None:
    """Rows meeting any of the conditions; None (every row) when one of them is None."""
    parts = list(conditions)
    if not parts or any(p is None for p in parts):
        return None
    unique = tuple(dict.fromkeys(parts))
    return unique[0] if len(unique) == 1 else Logical("or", unique)


def all_of(conditions) -> Condition | None:
    """Rows meeting every condition (None meets every row); None when no condition is left."""
    unique = tuple(dict.fromkeys(p for p in conditions if p is not None))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else Logical("and", unique)


def relax(node: Condition | None, columns: Mapping[str, str]) -> Condition | None:
    """A condition that holds for every row `node` holds for, made only of comparisons of the
    dataset's own `columns` (name → "integer" or "code") with constants: what an engine may
    filter the records by before grouping, without changing any cell computed after it.

    A part that cannot be translated exactly (a derived column, arithmetic on a column) is
    dropped from an "and" and makes an "or" or a "not" keep every row. None: every row may be
    needed. Tables still evaluate the whole filter on the aggregate, so this only saves work."""
    if node is None:
        return None
    if isinstance(node, Logical):
        parts = [relax(n, columns) for n in node.operands]
        return all_of(parts) if node.op == "and" else any_of(parts)
    return _exact(node, columns)


def simplify(node: Condition | None, domains: Mapping[str, Collection]) -> Condition | None:
    """A relaxed condition (`relax`) made cheaper for the engine to test on every record, keeping
    exactly the same records of a dataset whose code columns hold only the codes of `domains`
    (column → every code it may hold, as the dataset's check made sure of).

    The measures of a table each add their filter, so the condition is an "or" of many "and"s of
    a column compared with constants: migration's, every (direction, year) a measure counts. Such
    an "and" is taken as the set of values it allows each column, and an "and" that allows at
    least what another allows is dropped (absorbed); two that differ in one column only become one
    allowing the values of both (merged); and a column allowed every code of its domain needs no
    test. Migration's filter then reads "year in [...]", which DuckDB tests in half the time of the
    whole "or" on the demo's 3.4 million records; one that allows everything is None. Any other
    part (an order comparison, a "not", a nested "or") is kept as it is."""
    if node is None:
        return None
    disjuncts = node.operands if isinstance(node, Logical) and node.op == "or" else (node,)
    boxes, others = [], []
    for part in disjuncts:
        box = _box(part)
        if box is None:
            others.append(part)
        else:
            boxes.append(box)
    boxes = [box for box in boxes if all(box.values())]  # one that allows no value allows no record
    if len(boxes) > MOST_BOXES or not (boxes or others):
        return node
    boxes = _fewest(boxes, {column: frozenset(codes) for column, codes in domains.items()})
    if boxes is None:
        return None  # one of them allows every record
    return any_of([_unbox(box) for box in boxes] + others)


MOST_BOXES = 64  # each pass compares every two: a larger "or" is left as it is


def _box(node: Condition) -> dict[str, frozenset] | None:
    """The values an "and" of equalities and memberships allows each column, or None."""
    atoms = node.operands if isinstance(node, Logical) and node.op == "and" else (node,)
    box: dict[str, frozenset] = {}
    for atom in atoms:
        if isinstance(atom, Compare) and atom.op == "==" and isinstance(atom.left, Name):
            column, values = atom.left.id, frozenset([atom.right.value])
        elif isinstance(atom, Member) and not atom.negated:
            column, values = atom.name.id, frozenset(v.value for v in atom.values)
        else:
            return None
        box[column] = box[column] & values if column in box else values
    return box


def _fewest(boxes: list[dict], domains: dict[str, frozenset]) -> list[dict] | None:
    """The boxes absorbed, merged and cleared of columns allowed their whole domain, until nothing
    changes; None when one allows every record."""
    changed = True
    while changed:
        changed = False
        boxes = [{c: v for c, v in box.items() if not (c in domains and v >= domains[c])} for box in boxes]
        if any(not box for box in boxes):
            return None
        for i, a in enumerate(boxes):
            for j, b in enumerate(boxes):
                if i == j:
                    continue
                if b.keys() <= a.keys() and all(a[c] <= b[c] for c in b):  # a allows no more than b
                    del boxes[i]
                    changed = True
                    break
                differ = [c for c in a if a[c] != b[c]] if a.keys() == b.keys() else []
                if len(differ) == 1:
                    boxes[i] = {**a, differ[0]: a[differ[0]] | b[differ[0]]}
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


def _unbox(box: dict[str, frozenset]) -> Condition:
    atoms = []
    for column in sorted(box):
        values = sorted(box[column], key=lambda v: (isinstance(v, str), v))
        atoms.append(Compare("==", Name(column), Constant(values[0])) if len(values) == 1 else
                     Member(Name(column), tuple(Constant(v) for v in values)))
    return all_of(atoms)


FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _exact(node: Condition, columns: Mapping[str, str]) -> Condition | None:
    """`node` with every comparison as column-op-constant, or None if one cannot be."""
    if isinstance(node, Logical):
        parts = [_exact(n, columns) for n in node.operands]
        return None if None in parts else Logical(node.op, tuple(parts))
    if isinstance(node, Not):
        inner = _exact(node.operand, columns)
        return None if inner is None else Not(inner)
    if isinstance(node, Member):
        # numpy compares an integer column with the list cast to integers (2.5 becomes 2): a
        # list that is not whole numbers is left to the tables
        whole = columns.get(node.name.id) != "integer" or all(type(v.value) is int for v in node.values)
        return node if node.name.id in columns and whole else None
    left, right, op = node.left, node.right, node.op
    if not isinstance(left, Name):
        left, right, op = right, left, FLIPPED[op]
    value = _folded(right)
    if not isinstance(left, Name) or left.id not in columns or value is None:
        return None
    return Compare(op, left, value)


def _folded(term: Term) -> Constant | None:
    """A term of constants only (`{year} - 4`), computed as `evaluate` computes it; else None."""
    if isinstance(term, Constant):
        return term
    if isinstance(term, Negative):
        inner = _folded(term.operand)
        return None if inner is None or isinstance(inner.value, str) else Constant(-float(inner.value))
    if not isinstance(term, Arithmetic):
        return None
    a, b = _folded(term.left), _folded(term.right)
    if a is None or b is None or isinstance(a.value, str) or isinstance(b.value, str):
        return None
    x, y = float(a.value), float(b.value)
    if term.op == "/" and y == 0:
        return None
    value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else math.nan}[term.op]
    return Constant(value) if math.isfinite(value) else None


# ----------------------------------------------------------------------------------------------
# evaluation over numpy arrays


@dataclass(frozen=True)
class Result:
    values: np.ndarray
    zero_division: np.ndarray  # rows where a denominator was zero


def evaluate_filter(node: Condition, columns: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    """A boolean mask over `size` rows."""
    if isinstance(node, Logical):
        masks = [evaluate_filter(n, columns, size) for n in node.operands]
        combine = np.logical_and if node.op == "and" else np.logical_or
        return np.asarray(combine.reduce(masks), dtype=bool)
    if isinstance(node, Not):
        return ~evaluate_filter(node.operand, columns, size)
    if isinstance(node, Member):
        values = columns[node.name.id]
        wanted = np.array([_like(v.value, values) for v in node.values], dtype=values.dtype)
        return np.isin(values, wanted, invert=node.negated)
    left = _broadcast(evaluate(node.left, columns, size).values, size)
    right = _broadcast(evaluate(node.right, columns, size).values, size)
    op = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
          ">": np.greater, ">=": np.greater_equal}[node.op]
    return np.asarray(op(left, right), dtype=bool)


def _like(value, values: np.ndarray):
    return str(value) if values.dtype.kind in "OUS" else value


def _broadcast(values: np.ndarray, size: int) -> np.ndarray:
    return np.broadcast_to(values, (size,)) if values.ndim == 0 else values


def evaluate(node: Term, columns: Mapping[str, np.ndarray], size: int) -> Result:
    """A term's values over `size` rows, and where a division had a zero denominator."""
    none = np.zeros(size, dtype=bool)
    if isinstance(node, Name):
        return Result(columns[node.id], none)
    if isinstance(node, Constant):
        return Result(np.asarray(node.value), none)
    if isinstance(node, Negative):
        inner = evaluate(node.operand, columns, size)
        return Result(-inner.values.astype(float), inner.zero_division)
    left, right = evaluate(node.left, columns, size), evaluate(node.right, columns, size)
    a, b = left.values.astype(float), right.values.astype(float)
    zero = left.zero_division | right.zero_division
    with np.errstate(divide="ignore", invalid="ignore"):
        if node.op == "/":
            zero = zero | _broadcast(b == 0, size)
            values = np.divide(a, b)
        else:
            values = {"+": np.add, "-": np.subtract, "*": np.multiply}[node.op](a, b)
    return Result(values, zero)
