#!/usr/bin/env python3
"""Holds the deploy to "no surprises": what `sam deploy` would ask, and what the CLI reads.

Usage: check_deploy.py [TEMPLATE_YAML [SAMCONFIG_TOML [README_MD [MOTO_STACK_YAML]]]]
(defaults: template.yaml samconfig.toml README.md infra/moto-stack.yaml)

Run with the SAM CLI's Python (.venv-sam), whose own code it calls:

- `sam deploy --guided` asks "<function> has no authentication. Is this
  okay?" for every API event of a function that neither the event nor its
  API declares Auth for: the SAM CLI's own check (samcli's
  auth_per_resource, on the template as `sam deploy` loads it) must find
  none;
- every template parameter is named in the README (`sam deploy --guided`
  asks for each, so the README answers each), and every one without a
  Default is answered in samconfig.toml's parameter_overrides (so `sam
  deploy` asks nothing);
- samconfig.toml's deploy section sets what `sam deploy` would otherwise
  ask or fail on: capabilities, an artifact bucket (resolve_s3), no
  changeset confirmation, a stack name;
- the Outputs of infra/moto-stack.yaml (the stack the CLI's --stack tests
  create in moto) are exactly template.yaml's, and template.yaml has every
  output the CLI reads (infra/cli/src/stack.rs, OUTPUT_VARIABLES).
"""

import re
import sys
import tomllib

from samcli.commands.deploy.auth_utils import auth_per_resource
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samtranslator.yaml_helper import yaml_parse


def outputs_the_cli_reads(stack_rs):
    """The output keys of OUTPUT_VARIABLES in infra/cli/src/stack.rs."""
    text = open(stack_rs, encoding="utf-8").read()
    table = text[text.index("pub const OUTPUT_VARIABLES") :]
    table = table[: table.index("];")]
    return set(re.findall(r'\("([A-Za-z]+)", "WARDEN_[A-Z_]+"\)', table))


def main():
    args = sys.argv[1:] + [None] * 4
    template_path = args[0] or "template.yaml"
    samconfig_path = args[1] or "samconfig.toml"
    readme_path = args[2] or "README.md"
    moto_path = args[3] or "infra/moto-stack.yaml"
    problems = []

    stacks, _ = SamLocalStackProvider.get_stacks(template_path)
    unauthorized = sorted({name for name, ok in auth_per_resource(stacks) if not ok})
    if unauthorized:
        problems.append(
            "sam deploy --guided would ask 'has no authentication. Is this okay?' for: "
            + ", ".join(unauthorized)
        )

    template = yaml_parse(open(template_path, encoding="utf-8").read())
    with open(samconfig_path, "rb") as f:
        samconfig = tomllib.load(f)
    deploy = samconfig.get("default", {}).get("deploy", {}).get("parameters", {})
    overrides = deploy.get("parameter_overrides", "")
    if isinstance(overrides, list):
        overrides = " ".join(overrides)
    answered = set(re.findall(r"([A-Za-z0-9]+)=", overrides))
    readme = open(readme_path, encoding="utf-8").read()
    for name, parameter in template.get("Parameters", {}).items():
        # `sam deploy --guided` asks for every parameter, its default shown.
        if not re.search(rf"\b{name}\b", readme):
            problems.append(f"sam deploy --guided asks for {name}; the README does not name it")
        if "Default" not in parameter and name not in answered:
            problems.append(f"parameter {name} has no Default and no answer in {samconfig_path}")
    for key, want in [("capabilities", None), ("resolve_s3", True), ("confirm_changeset", False)]:
        if key not in deploy:
            problems.append(f"{samconfig_path} [default.deploy.parameters] does not set {key}")
        elif want is not None and deploy[key] != want:
            problems.append(f"{samconfig_path}: {key} must be {want}, so that sam deploy asks nothing")
    stack_name = samconfig.get("default", {}).get("global", {}).get("parameters", {}).get(
        "stack_name"
    ) or deploy.get("stack_name")
    if not stack_name:
        problems.append(f"{samconfig_path} names no stack_name: sam deploy would ask for one")

    template_outputs = set(template.get("Outputs", {}))
    moto = yaml_parse(open(moto_path, encoding="utf-8").read())
    moto_outputs = set(moto.get("Outputs", {}))
    if template_outputs != moto_outputs:
        if template_outputs - moto_outputs:
            problems.append(
                f"{moto_path} lacks the outputs " + ", ".join(sorted(template_outputs - moto_outputs))
            )
        if moto_outputs - template_outputs:
            problems.append(
                f"{moto_path} has outputs template.yaml does not: "
                + ", ".join(sorted(moto_outputs - template_outputs))
            )
    missing = outputs_the_cli_reads("infra/cli/src/stack.rs") - template_outputs
    if missing:
        problems.append(
            "the CLI reads outputs template.yaml does not have: " + ", ".join(sorted(missing))
        )

    for p in problems:
        print(f"FAIL {p}")
    if problems:
        sys.exit(1)
    print(
        f"ok: sam deploy --guided asks no authentication question ({len(auth_per_resource(stacks))} "
        f"API events), every parameter is defaulted or answered, {len(template_outputs)} outputs "
        f"equal in {moto_path}"
    )


if __name__ == "__main__":
    main()
