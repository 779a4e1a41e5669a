#!/usr/bin/env python3
"""Holds infra/openapi.yaml to what the API really does for every action.

Usage: check_action_examples.py OPENAPI_YAML EXAMPLES_JSON

EXAMPLES_JSON is written by the black-box test
`every_action_of_the_catalogue_runs_to_success_over_http` when
WARDEN_ACTION_EXAMPLES names it: for each action of the catalogue, the run
request it sent and the job `GET /agents/runs/{job_id}` answered. Each
request must validate against `RunRequest` and each job against `Job`;
both tie `input` and `result` to the action's own schemas, so a schema
that disagrees with the code (a missing field, a wrong type or bound, a
null it does not allow) fails here.
"""

import json
import sys

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:warden:openapi"


def main() -> int:
    spec_path, examples_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    with open(examples_path, encoding="utf-8") as f:
        examples = json.load(f)
    registry = Registry().with_resource(
        BASE, Resource(contents=spec, specification=DRAFT202012)
    )

    def validator(name: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{BASE}#/components/schemas/{name}"}, registry=registry
        )

    run_request, job = validator("RunRequest"), validator("Job")
    tied = {
        rule["if"]["properties"]["action"]["const"]
        for rule in spec["components"]["schemas"]["ActionResults"]["allOf"]
    }
    failures = []
    seen = set()
    for example in examples:
        action = example["request"]["action"]
        seen.add(action)
        if action not in tied:
            failures.append(f"{action}: ActionResults has no schema for it")
        for what, v, instance in (
            ("request", run_request, example["request"]),
            ("job", job, example["job"]),
        ):
            for error in v.iter_errors(instance):
                path = "/".join(str(p) for p in error.absolute_path)
                failures.append(f"{action} {what} at /{path}: {error.message}")
    for action in sorted(tied - seen):
        failures.append(f"{action}: no example ran")
    for line in failures:
        print(f"openapi mismatch: {line}", file=sys.stderr)
    print(f"{len(examples)} action examples checked against {spec_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
