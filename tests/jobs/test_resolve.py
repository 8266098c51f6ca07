"""nborch.jobs: the default base job template, resolving it, validating job variables."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nborch.errors import ValidationError
from nborch.jobs import (
    default_base_job_template,
    resolve_job_configuration,
    validate_base_job_template,
    validate_job_variables,
)
from nborch.models import PoolType

OWNER = "work pool 'p'"
PROCESS_VARIABLES = {
    "env", "secret_env", "kernel_name", "execution_timeout", "stream_output", "working_dir",
    "in_process", "standby_kernels",
}  # fmt: skip


def custom_template() -> dict[str, Any]:
    return {
        "job_configuration": {
            "command": "{{ cmd }}",
            "label": "run-{{ n }}",
            "count": "{{ n }}",
            "nested": {"args": ["--n", "{{ n }}", "{{cmd}}"], "env": "{{ env }}"},
            "fixed": 42,
            "missing_whole": "{{ nowhere }}",
            "missing_inside": "x-{{ nowhere }}-y",
        },
        "variables": {
            "type": "object",
            "properties": {
                "cmd": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
                "n": {"type": "integer", "default": 1},
                "env": {"type": "object", "default": {"A": "1"}},
                "nowhere": {"type": "string"},
            },
        },
    }


# --- the default template -------------------------------------------------------------------


def test_default_process_template_structure() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    assert set(template) == {"job_configuration", "variables"}
    assert template["job_configuration"] == {
        name: "{{ " + name + " }}" for name in PROCESS_VARIABLES
    }
    variables = template["variables"]
    assert variables["type"] == "object"
    properties = variables["properties"]
    assert set(properties) == PROCESS_VARIABLES
    assert properties["env"]["default"] == {}
    assert properties["stream_output"]["default"] is True
    assert properties["stream_output"]["type"] == "boolean"
    assert properties["execution_timeout"]["default"] is None
    assert properties["execution_timeout"]["exclusiveMinimum"] == 0
    for schema in properties.values():
        assert schema["title"] and schema["description"]
    # It is itself a valid template.
    assert validate_base_job_template(template, OWNER) is template


def test_default_template_is_a_fresh_copy_each_time() -> None:
    first = default_base_job_template(PoolType.PROCESS)
    first["variables"]["properties"]["env"]["default"]["X"] = "changed"
    first["job_configuration"]["extra"] = "x"
    second = default_base_job_template(PoolType.PROCESS)
    assert second["variables"]["properties"]["env"]["default"] == {}
    assert "extra" not in second["job_configuration"]


def test_every_pool_type_has_a_valid_default_template() -> None:
    for pool_type in PoolType:
        template = default_base_job_template(pool_type)
        assert validate_base_job_template(template, OWNER) is template
        assert resolve_job_configuration(template)  # every variable has a default


# --- resolve_job_configuration --------------------------------------------------------------


def test_resolve_default_template_fills_defaults() -> None:
    resolved = resolve_job_configuration(default_base_job_template(PoolType.PROCESS))
    assert resolved == {
        "env": {},
        "secret_env": [],
        "kernel_name": None,
        "execution_timeout": None,
        "stream_output": True,
        "working_dir": None,
        "in_process": True,
        "standby_kernels": None,
    }


def test_resolve_layers_in_order_later_wins() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    deployment = {"execution_timeout": 60, "env": {"A": "1"}, "kernel_name": "python3"}
    run = {"execution_timeout": 5, "stream_output": False}
    resolved = resolve_job_configuration(template, deployment, run)
    assert resolved["execution_timeout"] == 5  # the run's, over the deployment's
    assert resolved["env"] == {"A": "1"}  # the deployment's, over the default
    assert resolved["kernel_name"] == "python3"
    assert resolved["stream_output"] is False  # False is a value, not a missing one
    assert resolved["working_dir"] is None
    # Reversed order: the deployment wins.
    assert resolve_job_configuration(template, run, deployment)["execution_timeout"] == 60


def test_resolve_does_not_change_the_template_or_layers() -> None:
    template = custom_template()
    before = copy.deepcopy(template)
    layer = {"cmd": ["x"]}
    resolve_job_configuration(template, layer)
    assert template == before
    assert layer == {"cmd": ["x"]}


def test_resolved_configuration_shares_nothing_with_the_template() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    resolved = resolve_job_configuration(template)
    resolved["env"]["LEAK"] = "1"
    assert template["variables"]["properties"]["env"]["default"] == {}
    assert resolve_job_configuration(template)["env"] == {}


def test_whole_value_placeholder_keeps_the_type() -> None:
    resolved = resolve_job_configuration(custom_template())
    assert resolved["command"] == ["a"]  # a list stays a list
    assert resolved["count"] == 1 and isinstance(resolved["count"], int)  # a number stays one
    assert resolved["nested"]["env"] == {"A": "1"}  # a dict stays a dict
    assert resolved["nested"]["args"] == ["--n", 1, ["a"]]
    assert resolved["fixed"] == 42


def test_placeholder_inside_a_longer_string_becomes_text() -> None:
    resolved = resolve_job_configuration(custom_template(), {"n": 7})
    assert resolved["label"] == "run-7"
    resolved = resolve_job_configuration(custom_template(), {"n": 7, "cmd": ["x", "y"]})
    assert resolved["command"] == ["x", "y"]
    template = {
        "job_configuration": {"line": "cmd={{ cmd }} env={{ env }} s={{ s }}"},
        "variables": {
            "type": "object",
            "properties": {
                "cmd": {"default": ["a", "b"]},
                "env": {"default": {"K": 1}},
                "s": {"default": "plain"},
            },
        },
    }
    assert resolve_job_configuration(template) == {"line": 'cmd=["a", "b"] env={"K": 1} s=plain'}


def test_missing_variable_is_none_when_whole_and_empty_inside_text() -> None:
    resolved = resolve_job_configuration(custom_template())
    assert resolved["missing_whole"] is None
    assert resolved["missing_inside"] == "x--y"


def test_resolve_with_an_empty_template() -> None:
    assert resolve_job_configuration({}) == {}
    assert resolve_job_configuration({"job_configuration": {"a": "{{ b }}"}}, {"b": 2}) == {"a": 2}


# --- validate_job_variables -----------------------------------------------------------------


def test_valid_job_variables_pass() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    validate_job_variables(
        template,
        {"execution_timeout": 0.5, "env": {"A": "b"}, "kernel_name": None},
        {"stream_output": False, "working_dir": "/tmp"},
        owner=OWNER,
    )
    validate_job_variables(template, owner=OWNER)  # defaults alone


def test_unknown_job_variable_is_refused_naming_it_and_the_known_ones() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    with pytest.raises(ValidationError) as caught:
        validate_job_variables(template, {}, {"image": "python:3"}, owner=OWNER)
    message = str(caught.value)
    assert "Job variable 'image'" in message
    assert OWNER in message
    assert (
        "Known variables: env, execution_timeout, in_process, kernel_name, secret_env, "
        "standby_kernels, stream_output, working_dir." in message
    )


@pytest.mark.parametrize(
    ("name", "value", "shown", "allowed"),
    [
        ("execution_timeout", -1, "-1", "Allowed: number or null (exclusiveMinimum 0)."),
        ("execution_timeout", 0, "0", "Allowed: number or null (exclusiveMinimum 0)."),
        ("execution_timeout", "abc", '"abc"', "Allowed: number or null (exclusiveMinimum 0)."),
        ("stream_output", "yes", '"yes"', "Allowed: boolean."),
        ("kernel_name", 3, "3", "Allowed: string or null."),
        ("env", {"A": 1}, '{"A": 1}', "Allowed: object."),
    ],
)
def test_bad_job_variable_value_is_refused(
    name: str, value: object, shown: str, allowed: str
) -> None:
    template = default_base_job_template(PoolType.PROCESS)
    with pytest.raises(ValidationError) as caught:
        validate_job_variables(template, {name: value}, owner=OWNER)
    message = str(caught.value)
    assert message.startswith(f"Job variable '{name}' = {shown} is not allowed by {OWNER}")
    assert message.endswith(allowed)


def test_a_later_layer_can_fix_an_earlier_bad_value() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    validate_job_variables(
        template, {"execution_timeout": -1}, {"execution_timeout": 5}, owner=OWNER
    )
    with pytest.raises(ValidationError, match="execution_timeout"):
        validate_job_variables(
            template, {"execution_timeout": 5}, {"execution_timeout": -1}, owner=OWNER
        )


def test_enum_variable_lists_its_choices() -> None:
    template = {
        "job_configuration": {"mode": "{{ mode }}"},
        "variables": {
            "type": "object",
            "properties": {"mode": {"enum": ["fast", "slow"], "default": "fast"}},
        },
    }
    with pytest.raises(ValidationError) as caught:
        validate_job_variables(template, {"mode": "medium"}, owner=OWNER)
    assert str(caught.value).endswith('Allowed: one of "fast", "slow".')


def test_custom_template_variables_are_checked_against_its_schema() -> None:
    template = custom_template()
    validate_job_variables(template, {"cmd": ["x", "y"], "n": 3}, owner=OWNER)
    with pytest.raises(ValidationError) as caught:
        validate_job_variables(template, {"n": "three"}, owner=OWNER)
    assert "Job variable 'n' = \"three\"" in str(caught.value)
    assert str(caught.value).endswith("Allowed: integer.")
    with pytest.raises(ValidationError, match="Job variable 'cmd'"):
        validate_job_variables(template, {"cmd": ["ok", 1]}, owner=OWNER)
    with pytest.raises(ValidationError, match="Known variables: cmd, env, n, nowhere."):
        validate_job_variables(template, {"image": "x"}, owner=OWNER)


# --- validate_base_job_template -------------------------------------------------------------


@pytest.mark.parametrize("template", [None, "text", ["job_configuration", "variables"], 3])
def test_base_template_that_is_not_an_object_is_refused(template: object) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_base_job_template(template, OWNER)
    message = str(caught.value)
    assert OWNER in message
    assert "'job_configuration' and 'variables'" in message
    assert "nborch work-pool get-default-base-job-template" in message


@pytest.mark.parametrize(
    "template",
    [
        {},
        {"job_configuration": {}},
        {"variables": {"type": "object", "properties": {}}},
        {"job_configuration": {}, "variables": {}, "extra": 1},
    ],
)
def test_base_template_with_missing_or_extra_keys_is_refused(template: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly the keys"):
        validate_base_job_template(template, OWNER)


@pytest.mark.parametrize("variables", [[], "schema", {"properties": []}])
def test_base_template_variables_must_be_a_schema_object(variables: object) -> None:
    with pytest.raises(ValidationError, match="must be a JSON schema object"):
        validate_base_job_template({"job_configuration": {}, "variables": variables}, OWNER)


@pytest.mark.parametrize(
    "variables",
    [
        {"type": 5},
        {"type": "object", "properties": {"n": {"type": "integr"}}},
        {"type": "object", "properties": {"n": {"minimum": "zero"}}},
    ],
)
def test_base_template_with_an_invalid_json_schema_is_refused(variables: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_base_job_template({"job_configuration": {}, "variables": variables}, OWNER)
    assert "are not a valid JSON schema" in str(caught.value)
    assert OWNER in str(caught.value)


def test_valid_custom_base_template_is_returned() -> None:
    template = custom_template()
    assert validate_base_job_template(template, OWNER) is template
