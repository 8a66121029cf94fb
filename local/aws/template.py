"""Reads `template.yaml` so the local stack and the tests run what the template declares:
its routes, functions, environment and resource definitions, with intrinsic functions resolved
against local names. Nothing here keeps a second copy of the template's contents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
_INTRINSICS = (
    "Ref", "Condition", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select",
    "Split", "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr",
)  # fmt: skip


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns `!Tag value` into the long form `{"Fn::Tag": value}`."""


def _construct(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _INTRINSICS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


@dataclass(frozen=True)
class HttpRoute:
    """One `HttpApi` event of a function."""

    method: str
    path: str
    function: str
    public: bool

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


@dataclass
class Template:
    """The parts of the template the local stack needs, with intrinsics resolved on demand."""

    document: dict[str, Any]
    stack_name: str = "local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[str, str] = field(default_factory=dict)  # "Logical.Attr" -> value

    @classmethod
    def load(cls, **kwargs: Any) -> Template:
        return cls(load_template(), **kwargs)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.document["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        return str(self.document.get("Parameters", {}).get(name, {}).get("Default", ""))

    # --- routes and functions -----------------------------------------------------------------

    def http_routes(self) -> list[HttpRoute]:
        routes = []
        for name, resource in self.of_type("AWS::Serverless::Function").items():
            for event in (resource["Properties"].get("Events") or {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event.get("Properties", {})
                authorizer = (props.get("Auth") or {}).get("Authorizer")
                routes.append(
                    HttpRoute(
                        method=props["Method"].upper(),
                        path=props["Path"],
                        function=name,
                        public=authorizer == "NONE",
                    )
                )
        return routes

    def http_authorizer(self) -> dict[str, Any]:
        """The default authorizer of the (single) HttpApi: its function and identity settings."""
        (api,) = self.of_type("AWS::Serverless::HttpApi").values()
        auth = api["Properties"]["Auth"]
        config: dict[str, Any] = auth["Authorizers"][auth["DefaultAuthorizer"]]
        target = config["FunctionArn"]
        # The function itself (GetAtt ...Arn) or the alias SAM publishes for it (Ref ...Alias).
        function = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
        return {
            "function": function.removesuffix(".Alias"),
            "headers": config.get("Identity", {}).get("Headers", []),
            "ttl": int(self.resolve(config.get("Identity", {}).get("ReauthorizeEvery", 300))),
            "simple": bool(config.get("EnableSimpleResponses")),
        }

    def function_code(self, name: str) -> tuple[Path, str]:
        """(code folder, handler attribute path) of a function."""
        props = self.resources[name]["Properties"]
        return ROOT / props["CodeUri"], props["Handler"]

    def function_environment(self, name: str) -> dict[str, str]:
        """Globals' variables overlaid with the function's own, resolved."""
        merged: dict[str, Any] = {}
        globals_env = self.document.get("Globals", {}).get("Function", {}).get("Environment", {})
        merged.update(globals_env.get("Variables", {}))
        props = self.resources[name]["Properties"]
        merged.update((props.get("Environment") or {}).get("Variables", {}))
        return {key: str(self.resolve(value)) for key, value in merged.items()}

    def function_timeout(self, name: str) -> int:
        props = self.resources[name]["Properties"]
        default = self.document.get("Globals", {}).get("Function", {}).get("Timeout", 3)
        return int(props.get("Timeout", default))

    def function_events(self, name: str, *types: str) -> dict[str, dict[str, Any]]:
        """A function's `Events` of the given types (all when none given), by event name, with
        their properties unresolved (names of resources may not exist yet)."""
        events = self.resources[name]["Properties"].get("Events") or {}
        return {
            event_name: event
            for event_name, event in events.items()
            if not types or event.get("Type") in types
        }

    def event_invoke_config(self, name: str) -> dict[str, Any]:
        """How Lambda treats the function's asynchronous invocations: the SAM property
        `EventInvokeConfig`, or an `AWS::Lambda::EventInvokeConfig` naming the function."""
        config = self.resources[name]["Properties"].get("EventInvokeConfig")
        if config is None:
            for resource in self.of_type("AWS::Lambda::EventInvokeConfig").values():
                props = resource.get("Properties", {})
                if name in references(props.get("FunctionName")):
                    config = props
                    break
        return dict(self.resolve(config or {}))

    def layer_folders(self) -> list[Path]:
        """The content folders of the template's layers (on the functions' import path)."""
        return [
            ROOT / resource["Properties"]["ContentUri"]
            for resource in self.of_type("AWS::Serverless::LayerVersion").values()
            if isinstance(resource["Properties"].get("ContentUri"), str)
        ]

    def function_for_arn(self, arn: str) -> str | None:
        """The logical id of the function an ARN (possibly qualified) names, if any."""
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            return None
        for logical in self.of_type("AWS::Serverless::Function"):
            known = self.attributes.get(f"{logical}.Arn", "")
            if known.split(":")[6:7] == parts[6:7]:
                return logical
        return None

    def logical_for_arn(self, arn: str) -> str | None:
        """The logical id of the resource whose `Arn` attribute is `arn`."""
        for key, value in self.attributes.items():
            if key.endswith(".Arn") and value == arn:
                return key.removesuffix(".Arn")
        return None

    # --- intrinsic functions ------------------------------------------------------------------

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def _ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name == "AWS::NoValue":
            return None
        if name in self.document.get("Parameters", {}):
            return self.parameter(name)
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"no local value for Ref {name}")

    def _get_att(self, logical: str, attribute: str) -> str:
        key = f"{logical}.{attribute}"
        if key in self.attributes:
            return self.attributes[key]
        raise KeyError(f"no local value for GetAtt {key}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.document["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        """Resolve Ref, GetAtt, Sub, If, Equals, Not, Join inside `value`."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._get_att(logical, attribute)
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub_var(m.group(1), extra), text)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(p) for p in self.resolve(parts))
        if key == "Condition":
            return self.condition(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_var(self, name: str, extra: dict[str, Any]) -> str:
        if name in extra:
            return str(self.resolve(extra[name]))
        if "." in name and not name.startswith("AWS::"):
            logical, attribute = name.split(".", 1)
            return self._get_att(logical, attribute)
        return str(self._ref(name))


def references(value: Any) -> set[str]:
    """The logical ids (and parameters) `value` refers to through Ref, GetAtt and Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg.removesuffix(".Alias"))  # SAM's Ref to a function's alias
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
            elif key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = re.findall(r"\$\{([^}!]+)\}", text)
                found |= {n.split(".", 1)[0] for n in names if n not in extra}
                found |= references(extra)
            else:
                found |= references(arg)
    return {name for name in found if not name.startswith("AWS::")}
