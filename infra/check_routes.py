#!/usr/bin/env python3
"""Holds infra/openapi.yaml to the routes template.yaml creates.

Usage: check_routes.py TEMPLATE_YAML OPENAPI_YAML

The routes are every HttpApi event (Method and Path) of an
`AWS::Serverless::Function`, every `RouteKey` of an
`AWS::ApiGatewayV2::Route`, and every path of an `AWS::Serverless::HttpApi`
inline `DefinitionBody`. Each must be documented:

- a method route (`POST /auth/login`) by that operation;
- `ANY` on a path that also has method routes (the function answers `405`
  there) by the path;
- `ANY` alone (every method forwarded somewhere) by the path with each of
  GET, PUT, POST, PATCH, DELETE and HEAD.

A route the template creates only under a Condition (on the resource, or
through `Fn::If`) exists only in some deployments: its path must say so,
`x-warden-only-if: {condition: <Condition>, parameter: <Parameter>}`, naming
that condition and a parameter the condition reads; a route that always
exists must not carry the mark. Every operation of the spec must be a
route of the template, too. `{proxy+}` (API Gateway's greedy parameter) is
`{proxy}` in OpenAPI. Exits 1 with one line per mismatch.
"""

import sys

import yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# What an `ANY` route alone must document: OPTIONS (CORS preflights) and
# TRACE are left out.
ANY_METHODS = ("get", "put", "post", "patch", "delete", "head")


class TemplateLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (`!Ref`, `!Sub`,
    `!If`, ...) as their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`)."""


def _short_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _short_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=TemplateLoader)


def normalise(path):
    return path.replace("+}", "}")


def refs_in(value):
    """The names every `Ref` and `Condition` under value points at."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("Ref", "Condition") and isinstance(inner, str):
                found.add(inner)
            found |= refs_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs_in(inner)
    return found


def parameters_of(condition, conditions, seen=()):
    """The template parameters a condition reads, through other conditions."""
    params = set()
    for name in refs_in(conditions.get(condition, {})):
        if name in conditions and name not in seen:
            params |= parameters_of(name, conditions, (*seen, condition))
        else:
            params.add(name)
    return params


def branches(value, condition):
    """(value, condition) for each way a possibly `Fn::If` value resolves:
    the `Fn::If`'s condition is the route's condition (its `else` branch
    is read as conditional on the same one)."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        name, yes, no = value["Fn::If"]
        for v in (yes, no):
            if not (isinstance(v, dict) and list(v) == ["Ref"] and v["Ref"] == "AWS::NoValue"):
                yield from branches(v, condition or name)
    else:
        yield value, condition


def template_routes(template):
    """(method, path, condition or None, where) for every HTTP route."""
    routes = []
    for name, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        condition = resource.get("Condition")
        if kind == "AWS::Serverless::Function":
            for event_name, event in (props.get("Events") or {}).items():
                for ev, cond in branches(event, condition):
                    if not isinstance(ev, dict) or ev.get("Type") != "HttpApi":
                        continue
                    ep = ev.get("Properties") or {}
                    method, path = ep.get("Method"), ep.get("Path")
                    if not isinstance(method, str) or not isinstance(path, str):
                        # An HttpApi event without Method and Path is the
                        # catch-all $default route.
                        routes.append(("ANY", "$default", cond, f"{name}.{event_name}"))
                        continue
                    routes.append((method.upper(), path, cond, f"{name}.{event_name}"))
        elif kind == "AWS::ApiGatewayV2::Route":
            for key, cond in branches(props.get("RouteKey"), condition):
                if not isinstance(key, str):
                    raise SystemExit(f"{name}: RouteKey {key!r} is not a plain string")
                if key == "$default":
                    routes.append(("ANY", "$default", cond, name))
                    continue
                method, path = key.split(" ", 1)
                routes.append((method.upper(), path, cond, name))
        elif kind == "AWS::Serverless::HttpApi":
            for body, cond in branches(props.get("DefinitionBody"), condition):
                if not isinstance(body, dict):
                    continue
                for path, item in (body.get("paths") or {}).items():
                    for p_item, p_cond in branches(item, cond):
                        for key in p_item or {}:
                            if key == "x-amazon-apigateway-any-method":
                                routes.append(("ANY", path, p_cond, f"{name}.DefinitionBody"))
                            elif key in METHODS:
                                routes.append((key.upper(), path, p_cond, f"{name}.DefinitionBody"))
    return routes


def check(template, spec):
    failures = []
    conditions = template.get("Conditions") or {}
    paths = spec.get("paths") or {}
    routes = template_routes(template)
    by_path = {}
    for method, path, cond, where in routes:
        by_path.setdefault(normalise(path), []).append((method, cond, where))

    for path, entries in sorted(by_path.items()):
        if path == "$default":
            failures.append(f"{entries[0][2]}: a $default (catch-all) route cannot be documented")
            continue
        item = paths.get(path)
        where = ", ".join(sorted({w for _, _, w in entries}))
        if item is None:
            methods = ", ".join(sorted({m for m, _, _ in entries}))
            failures.append(f"{methods} {path} ({where}): not in the spec")
            continue
        documented = {m for m in METHODS if m in item}
        explicit = {m.lower() for m, _, _ in entries if m != "ANY"}
        for m in sorted(explicit - documented):
            failures.append(f"{m.upper()} {path} ({where}): the spec has no such operation")
        if "ANY" in {m for m, _, _ in entries} and not explicit:
            for m in ANY_METHODS:
                if m not in documented:
                    failures.append(
                        f"ANY {path} ({where}) forwards every method: the spec has no {m.upper()}"
                    )
        for m in sorted(documented - explicit):
            if explicit and m not in ("options", "head"):
                failures.append(
                    f"{m.upper()} {path}: in the spec, but the template routes only "
                    + ", ".join(sorted(x.upper() for x in explicit))
                )
        conds = {c for _, c, _ in entries}
        mark = item.get("x-warden-only-if")
        if None in conds:
            if mark is not None:
                failures.append(f"{path}: marked x-warden-only-if, but the template always creates it ({where})")
            if len(conds) > 1:
                failures.append(f"{path}: some of its routes are conditional, some are not ({where})")
            continue
        if len(conds) > 1:
            failures.append(f"{path}: its routes depend on different conditions {sorted(conds)}")
            continue
        (cond,) = conds
        if not isinstance(mark, dict):
            failures.append(
                f"{path}: exists only under the condition {cond} ({where}); "
                f"the spec must say so (x-warden-only-if: {{condition: {cond}, parameter: ...}})"
            )
            continue
        if mark.get("condition") != cond:
            failures.append(f"{path}: x-warden-only-if names {mark.get('condition')!r}, the template {cond!r}")
        params = parameters_of(cond, conditions)
        if mark.get("parameter") not in params:
            failures.append(
                f"{path}: x-warden-only-if names the parameter {mark.get('parameter')!r}; "
                f"the condition {cond} reads {sorted(params)}"
            )

    for path, item in sorted(paths.items()):
        if path not in by_path:
            ops = ", ".join(m.upper() for m in METHODS if m in item)
            failures.append(f"{ops} {path}: in the spec, but template.yaml creates no such route")
    return routes, failures


def main() -> int:
    template_path, spec_path = sys.argv[1], sys.argv[2]
    template = load_template(template_path)
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    routes, failures = check(template, spec)
    for line in failures:
        print(f"route mismatch: {line}", file=sys.stderr)
    conditional = sum(1 for r in routes if r[2])
    print(
        f"{len(routes)} routes of {template_path} ({conditional} conditional) "
        f"checked against {spec_path}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
