"""nborch.parameters: parameter types, values typed on a command line, validation."""

from __future__ import annotations

import json

import pytest

from nborch.errors import ParameterError, ValidationError
from nborch.models import ParameterSpec
from nborch.parameters import (
    parse_assignment,
    parse_cli_parameters,
    parse_cli_value,
    type_name_of,
    type_name_of_annotation,
    validate_parameters,
)

OWNER = "flow 'hello'"


def spec(name: str, type_name: str, default: object = None) -> ParameterSpec:
    return ParameterSpec(name=name, type=type_name, default=default)


HELLO_SPECS = [
    spec("name", "str", "world"),
    spec("times", "int", 2),
    spec("excited", "bool", False),
]


# --- type_name_of ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "bool"),  # bool before int: True is an int in Python
        (False, "bool"),
        (3, "int"),
        (0.5, "float"),
        ("x", "str"),
        ([1, 2], "list"),
        ({"a": 1}, "dict"),
        (None, "any"),
        ((1, 2), "any"),
        (object(), "any"),
    ],
)
def test_type_name_of_a_default(value: object, expected: str) -> None:
    assert type_name_of(value) == expected


# --- type_name_of_annotation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("int", "int"),
        ("str", "str"),
        ("float", "float"),
        ("bool", "bool"),
        ("List[int]", "list"),
        ("list[str]", "list"),
        ("typing.List[int]", "list"),
        ("Dict[str, int]", "dict"),
        ("dict[str, float]", "dict"),
        ("Optional[str]", "str"),
        ("Optional[List[int]]", "list"),
        ("integer", "int"),
        ("boolean", "bool"),
        (" int ", "int"),
        ("pd.DataFrame", None),
        ("MyClass", None),
        ("None", None),
        ("", None),
        (None, None),
    ],
)
def test_type_name_of_annotation(annotation: str | None, expected: str | None) -> None:
    assert type_name_of_annotation(annotation) == expected


# --- parse_cli_value ------------------------------------------------------------------------


def test_str_keeps_the_text_exactly() -> None:
    assert parse_cli_value(spec("code", "str"), "007", OWNER) == "007"
    assert parse_cli_value(spec("code", "str"), "true", OWNER) == "true"
    assert parse_cli_value(spec("code", "str"), "[1, 2]", OWNER) == "[1, 2]"
    assert parse_cli_value(spec("code", "str"), "", OWNER) == ""


def test_int_is_read_as_a_number() -> None:
    value = parse_cli_value(spec("times", "int"), "3", OWNER)
    assert value == 3 and type(value) is int
    assert parse_cli_value(spec("times", "int"), "-12", OWNER) == -12


@pytest.mark.parametrize("raw", ["x", "abc", "3.5", "true", "[1]"])
def test_int_refuses_text_that_is_not_a_whole_number(raw: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_cli_value(spec("times", "int"), raw, OWNER)
    message = str(caught.value)
    assert caught.value.parameter == "times"
    assert "'times'" in message
    assert OWNER in message
    assert "must be int" in message
    assert repr(raw) in message
    assert "-p times=3" in message  # an example of what to type instead


def test_a_parameter_error_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse_cli_value(spec("times", "int"), "x", OWNER)


def test_float_accepts_a_whole_number_and_makes_it_a_float() -> None:
    value = parse_cli_value(spec("ratio", "float"), "1", OWNER)
    assert value == 1.0 and type(value) is float
    assert parse_cli_value(spec("ratio", "float"), "0.25", OWNER) == 0.25


def test_float_refuses_text() -> None:
    with pytest.raises(ParameterError, match=r"-p ratio=0\.5"):
        parse_cli_value(spec("ratio", "float"), "half", OWNER)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("FALSE", False),
        ("no", False),
        ("off", False),
        ("0", False),
        (" yes ", True),
    ],
)
def test_bool_words(raw: str, expected: bool) -> None:
    assert parse_cli_value(spec("excited", "bool"), raw, OWNER) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "", "y e s"])
def test_bool_refuses_other_words(raw: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_cli_value(spec("excited", "bool"), raw, OWNER)
    assert caught.value.parameter == "excited"
    assert "must be bool" in str(caught.value)
    assert "-p excited=true" in str(caught.value)


def test_list_and_dict_are_read_as_json() -> None:
    assert parse_cli_value(spec("rows", "list"), "[1, 2, 3]", OWNER) == [1, 2, 3]
    assert parse_cli_value(spec("rows", "list"), '["a", {"b": null}]', OWNER) == [
        "a",
        {"b": None},
    ]
    assert parse_cli_value(spec("opts", "dict"), '{"a": 1, "b": [true]}', OWNER) == {
        "a": 1,
        "b": [True],
    }


def test_list_and_dict_refuse_the_other_shape() -> None:
    with pytest.raises(ParameterError, match="must be list"):
        parse_cli_value(spec("rows", "list"), '{"a": 1}', OWNER)
    with pytest.raises(ParameterError, match="must be dict"):
        parse_cli_value(spec("opts", "dict"), "[1, 2]", OWNER)
    with pytest.raises(ParameterError, match="must be list"):
        parse_cli_value(spec("rows", "list"), "not a list", OWNER)


def test_any_reads_json_and_else_keeps_the_text() -> None:
    any_spec = spec("x", "any")
    assert parse_cli_value(any_spec, "3", OWNER) == 3
    assert parse_cli_value(any_spec, '{"a": [1, 2]}', OWNER) == {"a": [1, 2]}
    assert parse_cli_value(any_spec, "null", OWNER) is None
    assert parse_cli_value(any_spec, "hello world", OWNER) == "hello world"
    assert parse_cli_value(any_spec, "[unclosed", OWNER) == "[unclosed"


def test_without_a_spec_the_value_is_read_like_any() -> None:
    assert parse_cli_value(None, "[1, 2]", OWNER) == [1, 2]
    assert parse_cli_value(None, "Ada", OWNER) == "Ada"


def test_any_never_produces_a_value_json_cannot_carry() -> None:
    value = parse_cli_value(spec("x", "any"), "2024-01-01", OWNER)
    json.dumps(value)  # raises TypeError for a datetime.date
    assert value == "2024-01-01"


# --- parse_assignment -----------------------------------------------------------------------


def test_assignment_splits_at_the_first_equals_sign() -> None:
    assert parse_assignment("a=b=c") == ("a", "b=c")
    assert parse_assignment("n=3") == ("n", "3")
    assert parse_assignment("name=") == ("name", "")
    assert parse_assignment(" n =3") == ("n", "3")


@pytest.mark.parametrize("text", ["nokey", "=value", "  =x", ""])
def test_assignment_without_a_name_is_refused(text: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_assignment(text)
    assert "NAME=VALUE" in str(caught.value)
    assert repr(text) in str(caught.value)


# --- parse_cli_parameters -------------------------------------------------------------------


def test_cli_parameters_are_typed_by_their_specs() -> None:
    values = parse_cli_parameters(HELLO_SPECS, ["name=007", "times=3", "excited=yes"], OWNER)
    assert values == {"name": "007", "times": 3, "excited": True}


def test_cli_parameters_later_assignment_wins() -> None:
    assert parse_cli_parameters(HELLO_SPECS, ["times=3", "times=4"], OWNER) == {"times": 4}


def test_cli_parameters_refuse_an_unknown_name_and_list_the_known_ones() -> None:
    with pytest.raises(ParameterError) as caught:
        parse_cli_parameters(HELLO_SPECS, ["times=3", "nmae=Ada"], OWNER)
    message = str(caught.value)
    assert caught.value.parameter == "nmae"
    assert message.startswith("Flow 'hello' has no parameter 'nmae'")
    assert "name (str)" in message
    assert "times (int)" in message
    assert "excited (bool)" in message


def test_cli_parameters_refuse_a_wrong_type() -> None:
    with pytest.raises(ParameterError) as caught:
        parse_cli_parameters(HELLO_SPECS, ["times=abc"], OWNER)
    assert caught.value.parameter == "times"
    assert "-p times=3" in str(caught.value)


# --- validate_parameters --------------------------------------------------------------------


def test_validate_returns_good_values_unchanged() -> None:
    values = {"name": "Ada", "times": 3, "excited": True}
    assert validate_parameters(HELLO_SPECS, values, OWNER) == values


def test_validate_refuses_unknown_names() -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(HELLO_SPECS, {"colour": "red"}, OWNER)
    assert caught.value.parameter == "colour"
    assert "has no parameter 'colour'" in str(caught.value)
    assert "times (int)" in str(caught.value)


def test_validate_without_declared_parameters_refuses_any_name() -> None:
    with pytest.raises(ParameterError, match=r"has no parameter 'n'\. Its parameters: none"):
        validate_parameters([], {"n": 1}, OWNER)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("times", "3"),
        ("times", 2.5),
        ("times", True),  # a bool is not an int here
        ("name", 7),
        ("excited", 1),
        ("excited", "true"),
    ],
)
def test_validate_refuses_wrong_types(name: str, value: object) -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(HELLO_SPECS, {name: value}, OWNER)
    assert caught.value.parameter == name
    assert f"Parameter '{name}' of {OWNER} must be" in str(caught.value)


def test_validate_accepts_an_int_for_a_float_but_not_a_bool() -> None:
    specs = [spec("ratio", "float")]
    assert validate_parameters(specs, {"ratio": 1}, OWNER) == {"ratio": 1}
    with pytest.raises(ParameterError):
        validate_parameters(specs, {"ratio": True}, OWNER)


def test_validate_accepts_none_for_any_type() -> None:
    values = {"name": None, "times": None, "excited": None}
    assert validate_parameters(HELLO_SPECS, values, OWNER) == values


def test_validate_checks_list_and_dict() -> None:
    specs = [spec("rows", "list"), spec("opts", "dict")]
    assert validate_parameters(specs, {"rows": [1], "opts": {"a": 1}}, OWNER)
    with pytest.raises(ParameterError, match="must be list"):
        validate_parameters(specs, {"rows": {"a": 1}}, OWNER)
    with pytest.raises(ParameterError, match="must be dict"):
        validate_parameters(specs, {"opts": [1]}, OWNER)


def test_validate_refuses_a_value_json_cannot_carry() -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters([spec("x", "any")], {"x": {1, 2}}, OWNER)
    assert caught.value.parameter == "x"
    assert "not JSON-serialisable" in str(caught.value)
    with pytest.raises(ParameterError, match="not JSON-serialisable"):
        validate_parameters([spec("x", "any")], {"x": [object()]}, OWNER)
