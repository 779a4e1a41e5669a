#!/usr/bin/env python3
"""Holds template.yaml to the signing-key and issuer rules moto cannot enforce.

Usage: check_template.py [TEMPLATE_YAML]   (default: template.yaml)

moto enforces neither key policies nor IAM, and its CloudFormation does not
run the SAM transform, so these rules are asserted on the template itself
(API.md "Open tokens"):

- the signing key (SigningKey) is an AWS::KMS::Key, RSA_2048, SIGN_VERIFY,
  tagged warden:signing = the stack name;
- its key policy allows kms:Sign to LoginFunctionRole alone (no other
  principal, the account root included; no kms:* or * action, no
  NotAction or NotPrincipal, no * principal), and kms:GetPublicKey to the
  five verifying functions' roles and to the account root;
- in the functions' IAM, kms:Sign appears only in LoginFunction's policies
  and only with the warden:signing tag condition; kms:GetPublicKey only in
  the five verifying functions, with the same condition; no other kms
  action, no kms wildcard, no * action, and no reference to SigningKey
  (the roles grant by tag, so rotated keys are covered and the roles do
  not depend on the key);
- no JwtSecret (nor WARDEN_JWT_SECRET) anywhere, comments included;
- every function's environment (Globals and its own) has
  WARDEN_ISSUER_PARAMETER, equal to IssuerParameter's name, and no
  WARDEN_ISSUER; that name is built from the stack name only, and no
  function's environment or policies refer to IssuerParameter or HttpApi
  (a circular dependency);
- every function may ssm:GetParameter that parameter, exactly;
- the five verifying functions have WARDEN_SIGNING_KEY_ARN (the key's ARN)
  and dynamodb:GetItem on RevokedTokensTable (the key set item); the other
  functions have no WARDEN_SIGNING_KEY_ARN.

Prints one line per broken rule and exits 1, else one summary line.
"""

import fnmatch
import re
import sys

from cfnlint.decode import decode

# The functions that verify (or issue) access tokens.
VERIFYING = (
    "LoginFunction",
    "RevokeFunction",
    "AuthorizerFunction",
    "AgentRunFunction",
    "SecurityHealthFunction",
)
# The one function that signs.
SIGNING = "LoginFunction"
KEY = "SigningKey"
TAG = "warden:signing"
ISSUER_PARAMETER = "IssuerParameter"
ISSUER_NAME = "/warden/${AWS::StackName}/issuer"
ISSUER_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/warden/${AWS::StackName}/issuer"
KEY_ARNS = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"
ROOT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def plain(value):
    """The decoded template's nodes as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def allows(actions, action):
    """Whether any of actions (IAM patterns, case-insensitive) covers action."""
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in actions)


def principal_names(principal):
    """A readable name for each principal of a key policy statement."""
    if principal == "*":
        return ["*"]
    names = []
    if isinstance(principal, dict):
        for kind, values in principal.items():
            for value in as_list(values):
                if value == "*":
                    names.append("*")
                elif isinstance(value, dict) and "Fn::GetAtt" in value:
                    target = value["Fn::GetAtt"]
                    if isinstance(target, str):
                        target = target.split(".", 1)
                    names.append(f"{target[0]}.{target[1]}")
                elif isinstance(value, dict) and value.get("Fn::Sub") == ROOT:
                    names.append("root")
                else:
                    names.append(f"{kind}:{value!r}")
    else:
        names.append(repr(principal))
    return names


def refers_to(value, names):
    """The names among `names` that value refers to (Ref, GetAtt, Sub)."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found |= {n for n in names if inner == n or inner.startswith(n + ".")}
            elif key == "Fn::GetAtt":
                target = inner.split(".", 1)[0] if isinstance(inner, str) else inner[0]
                found |= {n for n in names if target == n}
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                for var in re.findall(r"\$\{([^}!]+)\}", text):
                    found |= {n for n in names if var == n or var.startswith(n + ".")}
            found |= refers_to(inner, names)
    elif isinstance(value, list):
        for inner in value:
            found |= refers_to(inner, names)
    return found


def function_statements(name, props, failures):
    """Every IAM statement of a function's inline policies."""
    statements = []
    for policy in as_list(props.get("Policies")):
        if isinstance(policy, str):
            # A managed policy: only these narrow ones are expected.
            if re.search(r"kms|admin|poweruser|fullaccess", policy, re.I):
                failures.append(f"{name}: managed policy {policy!r} may grant KMS actions")
            continue
        if not isinstance(policy, dict):
            continue
        if "Statement" in policy:
            statements += as_list(policy["Statement"])
            continue
        for template_name in policy:
            # A SAM policy template (KMSDecryptPolicy, ...).
            if template_name.lower().startswith("kms"):
                failures.append(f"{name}: SAM policy template {template_name} grants KMS actions")
    return statements


def check_key(resources, failures):
    key = resources.get(KEY)
    if not key:
        failures.append(f"no {KEY} resource")
        return
    if key.get("Type") != "AWS::KMS::Key":
        failures.append(f"{KEY} is {key.get('Type')}, not AWS::KMS::Key")
    props = key.get("Properties") or {}
    if props.get("KeySpec") != "RSA_2048":
        failures.append(f"{KEY}: KeySpec is {props.get('KeySpec')!r}, not RSA_2048")
    if props.get("KeyUsage") != "SIGN_VERIFY":
        failures.append(f"{KEY}: KeyUsage is {props.get('KeyUsage')!r}, not SIGN_VERIFY")
    tags = {t.get("Key"): t.get("Value") for t in as_list(props.get("Tags")) if isinstance(t, dict)}
    if tags.get(TAG) != {"Ref": "AWS::StackName"}:
        failures.append(f"{KEY}: tag {TAG} is {tags.get(TAG)!r}, not the stack name (!Ref AWS::StackName)")

    policy = props.get("KeyPolicy") or {}
    statements = as_list(policy.get("Statement"))
    signers, public = set(), set()
    for i, st in enumerate(statements):
        where = f"{KEY} key policy statement {st.get('Sid', i)}"
        if st.get("Effect") != "Allow":
            continue
        if "NotAction" in st or "NotPrincipal" in st:
            failures.append(f"{where}: NotAction or NotPrincipal in an Allow could grant kms:Sign")
            continue
        actions = as_list(st.get("Action"))
        principals = principal_names(st.get("Principal"))
        if "*" in principals:
            failures.append(f"{where}: allows the * principal")
        for action in actions:
            if str(action).lower() in ("*", "kms:*"):
                failures.append(f"{where}: allows {action} to {', '.join(principals)}")
        if allows(actions, "kms:Sign"):
            if principals != [f"{SIGNING}Role.Arn"]:
                failures.append(
                    f"{where}: allows kms:Sign to {', '.join(principals)}; "
                    f"only {SIGNING}Role may sign, alone in its statement"
                )
            signers.update(principals)
        if allows(actions, "kms:GetPublicKey"):
            public.update(principals)
    if f"{SIGNING}Role.Arn" not in signers:
        failures.append(f"{KEY} key policy: {SIGNING}Role is not allowed kms:Sign")
    for fn in VERIFYING:
        if f"{fn}Role.Arn" not in public:
            failures.append(f"{KEY} key policy: {fn}Role is not allowed kms:GetPublicKey")
    if "root" not in public:
        failures.append(f"{KEY} key policy: the account root is not allowed kms:GetPublicKey")


def tag_condition_ok(st):
    cond = st.get("Condition") or {}
    equals = cond.get("StringEquals") or {}
    return (
        equals.get(f"aws:ResourceTag/{TAG}") == {"Ref": "AWS::StackName"}
        and as_list(st.get("Resource")) == [{"Fn::Sub": KEY_ARNS}]
    )


def check_functions(template, resources, failures):
    functions = {n: r for n, r in resources.items() if r.get("Type") in FUNCTION_TYPES}
    for fn in VERIFYING:
        if fn not in functions:
            failures.append(f"no {fn} (a verifying function)")
    glob = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    if "WARDEN_ISSUER" in glob:
        failures.append("Globals: WARDEN_ISSUER is set (the issuer comes from WARDEN_ISSUER_PARAMETER)")
    if refers_to(glob, {ISSUER_PARAMETER, "HttpApi"}):
        failures.append("Globals: the environment refers to IssuerParameter or HttpApi (a circular dependency)")

    param = resources.get(ISSUER_PARAMETER) or {}
    if param.get("Type") != "AWS::SSM::Parameter":
        failures.append(f"no {ISSUER_PARAMETER} (AWS::SSM::Parameter)")
    name = (param.get("Properties") or {}).get("Name")
    if name != {"Fn::Sub": ISSUER_NAME}:
        failures.append(f"{ISSUER_PARAMETER}: Name is {name!r}, not !Sub {ISSUER_NAME}")
    elif set(re.findall(r"\$\{([^}]+)\}", name["Fn::Sub"])) != {"AWS::StackName"}:
        failures.append(f"{ISSUER_PARAMETER}: Name is built from more than the stack name")

    for fn, res in sorted(functions.items()):
        props = res.get("Properties") or {}
        own = ((props.get("Environment") or {}).get("Variables")) or {}
        env = {**glob, **own}
        if "WARDEN_ISSUER" in env:
            failures.append(f"{fn}: environment sets WARDEN_ISSUER")
        if env.get("WARDEN_ISSUER_PARAMETER") != {"Fn::Sub": ISSUER_NAME}:
            failures.append(
                f"{fn}: WARDEN_ISSUER_PARAMETER is {env.get('WARDEN_ISSUER_PARAMETER')!r}, "
                f"not !Sub {ISSUER_NAME} (IssuerParameter's name)"
            )
        key_arn = env.get("WARDEN_SIGNING_KEY_ARN")
        if fn in VERIFYING and key_arn != {"Fn::GetAtt": [KEY, "Arn"]}:
            failures.append(f"{fn}: WARDEN_SIGNING_KEY_ARN is {key_arn!r}, not !GetAtt {KEY}.Arn")
        if fn not in VERIFYING and key_arn is not None:
            failures.append(f"{fn}: has WARDEN_SIGNING_KEY_ARN but verifies no token")

        statements = function_statements(fn, props, failures)
        if refers_to(own, {ISSUER_PARAMETER, "HttpApi"}) or refers_to(statements, {ISSUER_PARAMETER, "HttpApi"}):
            failures.append(f"{fn}: environment or policies refer to IssuerParameter or HttpApi (a circular dependency)")
        if refers_to(statements, {KEY}):
            failures.append(f"{fn}: a policy refers to {KEY}; grant by the {TAG} tag instead")

        kms_actions = set()
        reads_issuer = False
        reads_keyset = False
        for i, st in enumerate(statements):
            where = f"{fn} policy statement {i}"
            if st.get("Effect") != "Allow":
                continue
            if "NotAction" in st:
                failures.append(f"{where}: NotAction in an Allow could grant KMS actions")
            actions = [str(a) for a in as_list(st.get("Action"))]
            for action in actions:
                low = action.lower()
                if low == "*" or (low.startswith("kms:") and any(c in low for c in "*?")):
                    failures.append(f"{where}: wildcard action {action}")
            kms = {a for a in actions if a.lower().startswith("kms:")}
            if kms and not tag_condition_ok(st):
                failures.append(
                    f"{where}: {', '.join(sorted(kms))} without Resource {KEY_ARNS} and "
                    f"Condition StringEquals aws:ResourceTag/{TAG}: the stack name"
                )
            kms_actions |= {a.lower() for a in kms}
            if "ssm:getparameter" in {a.lower() for a in actions} and as_list(st.get("Resource")) == [
                {"Fn::Sub": ISSUER_ARN}
            ]:
                reads_issuer = True
            if "dynamodb:getitem" in {a.lower() for a in actions} and {"Fn::GetAtt": ["RevokedTokensTable", "Arn"]} in as_list(
                st.get("Resource")
            ):
                reads_keyset = True
            for action in actions:
                if action.lower().startswith("ssm:") and as_list(st.get("Resource")) != [{"Fn::Sub": ISSUER_ARN}]:
                    failures.append(f"{where}: {action} on more than the issuer parameter")

        if fn == SIGNING:
            expected = {"kms:sign", "kms:getpublickey"}
        elif fn in VERIFYING:
            expected = {"kms:getpublickey"}
        else:
            expected = set()
        if kms_actions != expected:
            failures.append(
                f"{fn}: KMS actions {sorted(kms_actions) or 'none'}, expected {sorted(expected) or 'none'}"
                + (" (kms:Sign is the login function's alone)" if "kms:sign" in kms_actions - expected else "")
            )
        if not reads_issuer:
            failures.append(f"{fn}: no ssm:GetParameter on the issuer parameter ({ISSUER_ARN})")
        if fn in VERIFYING and not reads_keyset:
            failures.append(f"{fn}: no dynamodb:GetItem on RevokedTokensTable (the key set item, keyset#access)")
    return functions


def check_other_policies(resources, failures):
    """kms:Sign in any IAM role or policy outside the functions' own."""
    for name, res in resources.items():
        if res.get("Type") not in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = res.get("Properties") or {}
        docs = [props.get("PolicyDocument")] + [p.get("PolicyDocument") for p in as_list(props.get("Policies"))]
        for doc in docs:
            for st in as_list((doc or {}).get("Statement")):
                if st.get("Effect") == "Allow" and allows(as_list(st.get("Action")), "kms:Sign"):
                    failures.append(f"{name}: allows kms:Sign (only {SIGNING}'s policies may)")


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    template, matches = decode(path)
    if matches or template is None:
        for m in matches:
            print(f"{path}: {m}", file=sys.stderr)
        return 1
    template = plain(template)
    resources = template.get("Resources") or {}
    failures = []
    for word in ("JwtSecret", "WARDEN_JWT_SECRET"):
        for n, line in enumerate(text.splitlines(), 1):
            if word in line:
                failures.append(f"{path}:{n}: {word} is gone (access tokens are signed in KMS)")
    check_key(resources, failures)
    functions = check_functions(template, resources, failures)
    check_other_policies(resources, failures)
    for line in failures:
        print(f"template rule broken: {line}", file=sys.stderr)
    print(
        f"{path}: signing key, key policy, the IAM of {len(functions)} functions "
        f"and the issuer checked: {len(failures)} broken"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
