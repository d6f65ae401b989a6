"""The service catalog document: parsed and validated with one clear error per bad field.

The repository keeps it as YAML (`config/catalog.example.yaml`); the stack publishes it as
JSON to an SSM parameter that the functions read. Either form loads here.
"""
from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from ..models import ServiceCatalog


class CatalogError(ValueError):
    """The catalog document is invalid; `problems` lists every bad field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid service catalog:\n  " + "\n  ".join(problems))


def parse_catalog(document: str | None, strict: bool = True,
                  warn: Any = None) -> ServiceCatalog:
    """A catalog from its JSON or YAML text (a bare list of services is accepted).

    `strict=False` is for the running functions: a dependency missing from the catalog or a
    clashing alias is reported through `warn` rather than stopping every incident — the
    synth (and `watchkeeper` validation) is where such a catalog is refused.
    """
    if not document or not document.strip():
        return ServiceCatalog()
    try:
        data: Any = (json.loads(document) if document.lstrip().startswith(("{", "["))
                     else yaml.load(document, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogError([f"not valid JSON or YAML: {exc}"]) from None
    if isinstance(data, list):
        data = {"services": data}
    if not isinstance(data, dict):
        raise CatalogError(["the top level must be a mapping with `services:`"])
    try:
        catalog = ServiceCatalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError([_describe(err, data) for err in exc.errors()]) from None
    problems = check_catalog(catalog)
    if problems and strict:
        raise CatalogError(problems)
    for problem in problems:
        if warn is not None:
            warn(f"service catalog: {problem}")
    return catalog


def check_catalog(catalog: ServiceCatalog) -> list[str]:
    """What a schema cannot say: unique names, dependencies that exist, aliases naming one service."""
    problems = []
    names: dict[str, int] = {}
    for i, s in enumerate(catalog.services):
        if s.name in names:
            problems.append(f"services.{i}.name: {s.name!r} is already the name of services.{names[s.name]}")
        names.setdefault(s.name, i)
    owner: dict[str, str] = {}
    for i, s in enumerate(catalog.services):
        for j, dep in enumerate(s.depends_on):
            if dep not in names:
                problems.append(f"services.{i}.depends_on.{j}: {dep!r} is not a service in the catalog")
            elif dep == s.name:
                problems.append(f"services.{i}.depends_on.{j}: a service cannot depend on itself")
        for j, alias in enumerate(s.aliases):
            key = alias.strip().lower()
            other = owner.setdefault(key, s.name)
            if other != s.name or (key in names and key != s.name):
                problems.append(f"services.{i}.aliases.{j}: {alias!r} already names {other if other != s.name else key!r}")
    return problems


def _describe(err: dict[str, Any], data: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    got = data
    for p in err["loc"]:
        try:
            got = got[p]
        except (KeyError, IndexError, TypeError):
            got = None
            break
    suffix = f" (got {got!r})" if got is not None and err["type"] != "missing" else ""
    return f"{loc}: {err['msg']}{suffix}"
