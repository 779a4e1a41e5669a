#!/usr/bin/env python3
"""Holds template.yaml to the KMS key, IAM, table and issuer rules moto cannot enforce.

Usage: check_template.py [TEMPLATE_YAML]   (default: template.yaml)

moto enforces neither key policies nor IAM, and its CloudFormation does not
run the SAM transform, so these rules are asserted on the template itself
(API.md "Open tokens" and "Governed tool calls"):

- two KMS keys, each an AWS::KMS::Key, RSA_2048, SIGN_VERIFY: SigningKey
  (access tokens) tagged warden:signing = the stack name, and DecisionKey
  (tool calls' decision tokens) tagged warden:decision = the stack name;
- SigningKey's key policy allows kms:Sign to LoginFunctionRole alone, and
  kms:GetPublicKey to the six verifying functions' roles and to the
  account root; DecisionKey's allows kms:Sign to AgentRunFunctionRole and
  ToolGateFunctionRole (the two functions that decide tool calls) alone,
  and kms:GetPublicKey to those roles and to the account root. In
  either policy: no other signer (the account root included; so the
  agent-run role never signs access tokens, nor the login role decisions),
  no kms:* or * action, no NotAction or NotPrincipal, no * principal;
- in the functions' IAM, every KMS statement is on Resource key/* with a
  StringEquals condition on exactly one of the two tags; kms:Sign appears
  only in LoginFunction's policies under warden:signing and in
  AgentRunFunction's and ToolGateFunction's under warden:decision;
  kms:GetPublicKey under warden:signing only in the six verifying
  functions and under warden:decision only in those two; no other kms action, no kms
  wildcard, no * action, and no reference to either key (the roles grant
  by tag: the key policies name the roles, so the roles cannot name the
  keys, and rotated signing keys are covered);
- no JwtSecret (nor WARDEN_JWT_SECRET) anywhere, comments included;
- every function's environment (Globals and its own) has
  WARDEN_ISSUER_PARAMETER, equal to IssuerParameter's name, and no
  WARDEN_ISSUER; that name is built from the stack name only, and no
  function's environment or policies refer to IssuerParameter or HttpApi
  (a circular dependency);
- every function may ssm:GetParameter that parameter, exactly, but
  ConsoleFunction, which serves compiled-in files and has no policy at all;
- the six verifying functions have WARDEN_SIGNING_KEY_ARN (the key's ARN)
  and dynamodb:GetItem on RevokedTokensTable (the key set item); the other
  functions have no WARDEN_SIGNING_KEY_ARN. AgentRunFunction and
  ToolGateFunction alone have WARDEN_DECISION_KEY_ARN (DecisionKey's ARN),
  and
  WARDEN_TOOL_APPROVAL_TTL_SECS and WARDEN_TOOL_PENDING_MAX from the
  parameters ToolApprovalTtlSeconds (default 900) and ToolPendingMax
  (default 20);
- every table is pay per request, encrypted, with point-in-time recovery
  and named <stack name>-<stack uid>-<suffix>; ToolCallsTable is keyed by
  call_id (S), with the index workspace-index (workspace_id, call_id;
  projection ALL) and TTL on expires_at, as the DynamoDB adapter's
  definition (shared/src/store/dynamo/tables.rs, TOOL_CALLS) says;
- AgentRunFunction and ToolGateFunction may read, put and update
  ToolCallsTable items and ConditionCheckItem on AgentsTable (a tool call's
  transaction checks the agent and the tool there); AgentRunFunction may
  Query its workspace-index;
- SecurityHealthFunction and HealthProbeFunction may DescribeTable every
  table, and DescribeTimeToLive every table with TTL (the health report
  has a table:<suffix> check for each);
- the admin endpoints (API.md "Admin endpoints"): AgentRunFunction may Scan
  and UpdateItem AgentsTable (GET /agents, the kill switch);
  SecurityHealthFunction may Query AuditLogTable and its actor-index
  (GET /audit), and is the only function that reads the audit log at all
  (GetItem, BatchGetItem, Query or Scan): every other one only appends to
  it;
- the outputs DecisionKeyArn (DecisionKey's ARN) and DecisionJwksUri
  (<issuer>/tools/jwks.json, from IssuerParameter's value as JwksUri is).

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
    "ToolGateFunction",
)
# The one function that signs access tokens.
SIGNING = "LoginFunction"
KEY = "SigningKey"
TAG = "warden:signing"
# The functions that decide tool calls (the HTTP route and the AgentCore
# Gateway interceptor): they sign decision tokens and read the decision
# key, and nothing else may.
DECIDING = ("AgentRunFunction", "ToolGateFunction")
DECISION_KEY = "DecisionKey"
DECISION_TAG = "warden:decision"


class KeyRule:
    """What one KMS key's policy and the functions' grants must say."""

    def __init__(self, name, tag, tag_value, signers, readers, env, spec="RSA_2048"):
        self.name = name
        self.tag = tag
        self.tag_value = tag_value
        self.signers = signers
        self.readers = readers
        self.env = env
        self.spec = spec


# The audit ledger's checkpointer: it alone signs checkpoints, and it
# decides nothing.
CHECKPOINTER = "CheckpointerFunction"
CHECKPOINT_KEY = "CheckpointKey"
CHECKPOINT_TAG = "warden:checkpoint"
KEY_RULES = (
    KeyRule(KEY, TAG, {"Ref": "AWS::StackName"}, (SIGNING,), VERIFYING, "WARDEN_SIGNING_KEY_ARN"),
    KeyRule(DECISION_KEY, DECISION_TAG, {"Ref": "AWS::StackName"}, DECIDING, DECIDING, "WARDEN_DECISION_KEY_ARN"),
    KeyRule(
        CHECKPOINT_KEY,
        CHECKPOINT_TAG,
        {"Ref": "AWS::StackName"},
        (CHECKPOINTER,),
        (CHECKPOINTER,),
        "WARDEN_CHECKPOINT_KEY_ARN",
        spec="ECC_NIST_P256",
    ),
)
KEY_NAMES = {rule.name for rule in KEY_RULES}
# The tool-call settings AgentRunFunction takes from the parameters, with
# the defaults the code has (shared/src/config.rs).
TOOL_SETTINGS = {
    "WARDEN_TOOL_APPROVAL_TTL_SECS": ("ToolApprovalTtlSeconds", 900),
    "WARDEN_TOOL_PENDING_MAX": ("ToolPendingMax", 20),
}
# The health report describes every table (table:<suffix> checks).
DESCRIBING = ("SecurityHealthFunction", "HealthProbeFunction")
# The admin endpoints' grants: the registry's Scan and the kill switch's
# UpdateItem (agent-run), the audit log's query on the table and on its
# actor index (security-health, its one reader).
AGENTS_ARN = {"Fn::GetAtt": ["AgentsTable", "Arn"]}
AUDIT_ARN = {"Fn::GetAtt": ["AuditLogTable", "Arn"]}
AUDIT_INDEX = {"Fn::Sub": "${AuditLogTable.Arn}/index/actor-index"}
ADMIN_GRANTS = {
    "AgentRunFunction": (
        ("dynamodb:Scan", AGENTS_ARN, "AgentsTable (GET /agents)"),
        ("dynamodb:UpdateItem", AGENTS_ARN, "AgentsTable (the kill switch)"),
    ),
    "SecurityHealthFunction": (
        ("dynamodb:Query", AUDIT_ARN, "AuditLogTable (GET /audit)"),
        ("dynamodb:Query", AUDIT_INDEX, "AuditLogTable's actor-index (GET /audit?actor=)"),
    ),
}
AUDIT_READER = "SecurityHealthFunction"
# The checkpointer reads the audit log too, with Query alone (every shard of
# the days a checkpoint covers).
AUDIT_LEDGER_READS = {CHECKPOINTER: ("dynamodb:Query",)}
# What the ledger keeps outside the writers' reach.
LEDGER_BUCKET = "CheckpointBucket"
LEDGER_TABLE = "CheckpointsTable"
MAC_SECRET = "AuditMacSecret"
# Audit events are kept 365 days, checkpoints a week longer: their copies
# are locked at least that long.
MIN_LOCK_DAYS = 372
DYNAMODB_WRITES = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
LEDGER_OUTPUTS = {
    "CheckpointsTableName": {"Ref": LEDGER_TABLE},
    "CheckpointKeyArn": {"Fn::GetAtt": [CHECKPOINT_KEY, "Arn"]},
    "CheckpointBucketName": {"Ref": LEDGER_BUCKET},
    "AuditMacSecretArn": {"Ref": MAC_SECRET},
}
AUDIT_READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan")
# Functions that serve compiled-in files and read nothing: no policy at
# all (SAM's own log and X-Ray grants aside), not even the issuer's.
STATIC = ("ConsoleFunction",)
STACK_UID = {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}
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


def check_key(resources, rule, failures):
    key = resources.get(rule.name)
    if not key:
        failures.append(f"no {rule.name} resource")
        return
    if key.get("Type") != "AWS::KMS::Key":
        failures.append(f"{rule.name} is {key.get('Type')}, not AWS::KMS::Key")
    props = key.get("Properties") or {}
    if props.get("KeySpec") != rule.spec:
        failures.append(f"{rule.name}: KeySpec is {props.get('KeySpec')!r}, not {rule.spec}")
    if props.get("KeyUsage") != "SIGN_VERIFY":
        failures.append(f"{rule.name}: KeyUsage is {props.get('KeyUsage')!r}, not SIGN_VERIFY")
    tags = {t.get("Key"): t.get("Value") for t in as_list(props.get("Tags")) if isinstance(t, dict)}
    if tags.get(rule.tag) != rule.tag_value:
        failures.append(f"{rule.name}: tag {rule.tag} is {tags.get(rule.tag)!r}, not {rule.tag_value!r}")
    for other in KEY_RULES:
        if other is not rule and other.tag in tags:
            failures.append(f"{rule.name}: carries {other.tag}, {other.name}'s tag (its grants would cover this key)")

    policy = props.get("KeyPolicy") or {}
    statements = as_list(policy.get("Statement"))
    signers, public = set(), set()
    for i, st in enumerate(statements):
        where = f"{rule.name} key policy statement {st.get('Sid', i)}"
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
            allowed = {f"{fn}Role.Arn" for fn in rule.signers}
            if not principals or not set(principals) <= allowed:
                failures.append(
                    f"{where}: allows kms:Sign to {', '.join(principals)}; "
                    f"only {', '.join(sorted(allowed))} may sign, alone in the statement"
                )
            signers.update(principals)
        if allows(actions, "kms:GetPublicKey"):
            public.update(principals)
    for fn in rule.signers:
        if f"{fn}Role.Arn" not in signers:
            failures.append(f"{rule.name} key policy: {fn}Role is not allowed kms:Sign")
    for fn in rule.readers:
        if f"{fn}Role.Arn" not in public:
            failures.append(f"{rule.name} key policy: {fn}Role is not allowed kms:GetPublicKey")
    if "root" not in public:
        failures.append(f"{rule.name} key policy: the account root is not allowed kms:GetPublicKey")


def key_of_statement(st):
    """The KeyRule whose tag condition a KMS statement grants under, or None
    when it is not exactly Resource key/* with StringEquals on one tag."""
    if as_list(st.get("Resource")) != [{"Fn::Sub": KEY_ARNS}]:
        return None
    cond = st.get("Condition") or {}
    if list(cond) != ["StringEquals"]:
        return None
    equals = cond["StringEquals"] or {}
    matched = [r for r in KEY_RULES if equals.get(f"aws:ResourceTag/{r.tag}") == r.tag_value]
    if len(matched) != 1 or len(equals) != 1:
        return None
    return matched[0]


def expected_kms(fn):
    """(action, key) pairs a function's IAM must grant, exactly."""
    expected = set()
    for rule in KEY_RULES:
        if fn in rule.signers:
            expected.add(("kms:sign", rule.name))
        if fn in rule.readers:
            expected.add(("kms:getpublickey", rule.name))
    return expected


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
        for rule in KEY_RULES:
            key_arn = env.get(rule.env)
            if fn in rule.readers and key_arn != {"Fn::GetAtt": [rule.name, "Arn"]}:
                failures.append(f"{fn}: {rule.env} is {key_arn!r}, not !GetAtt {rule.name}.Arn")
            if fn not in rule.readers and key_arn is not None:
                failures.append(f"{fn}: has {rule.env} but has no use for {rule.name}")
        for variable, (parameter, default) in TOOL_SETTINGS.items():
            value = env.get(variable)
            if fn in DECIDING:
                if value != {"Ref": parameter}:
                    failures.append(f"{fn}: {variable} is {value!r}, not !Ref {parameter}")
                param = (template.get("Parameters") or {}).get(parameter) or {}
                if str(param.get("Default")) != str(default) or param.get("Type") != "Number":
                    failures.append(
                        f"parameter {parameter}: Type {param.get('Type')!r}, Default {param.get('Default')!r}; "
                        f"expected a Number defaulting to {default} (the code's default)"
                    )
            elif value is not None:
                failures.append(f"{fn}: has {variable}, which only {' and '.join(DECIDING)} read")

        statements = function_statements(fn, props, failures)
        if fn in STATIC:
            if statements:
                failures.append(f"{fn}: has {len(statements)} policy statements; it reads nothing, so it needs none")
            continue
        if refers_to(own, {ISSUER_PARAMETER, "HttpApi"}) or refers_to(statements, {ISSUER_PARAMETER, "HttpApi"}):
            failures.append(f"{fn}: environment or policies refer to IssuerParameter or HttpApi (a circular dependency)")
        for rule in KEY_RULES:
            if refers_to(statements, {rule.name}):
                failures.append(f"{fn}: a policy refers to {rule.name}; grant by the {rule.tag} tag instead")

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
            if kms:
                rule = key_of_statement(st)
                if rule is None:
                    failures.append(
                        f"{where}: {', '.join(sorted(kms))} without Resource {KEY_ARNS} and "
                        f"a Condition StringEquals on exactly one key tag "
                        f"(aws:ResourceTag/{TAG}, aws:ResourceTag/{DECISION_TAG} or "
                        f"aws:ResourceTag/{CHECKPOINT_TAG}: the stack name)"
                    )
                else:
                    kms_actions |= {(a.lower(), rule.name) for a in kms}
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

        expected = expected_kms(fn)
        if kms_actions != expected:
            show = lambda pairs: sorted(f"{a} on {k}" for a, k in pairs) or "none"  # noqa: E731
            failures.append(
                f"{fn}: KMS actions {show(kms_actions)}, expected {show(expected)}"
                + (
                    " (kms:Sign is the login function's alone on the signing key, the agent-run function's alone on the decision key)"
                    if any(a == "kms:sign" for a, _ in kms_actions - expected)
                    else ""
                )
            )
        if not reads_issuer:
            failures.append(f"{fn}: no ssm:GetParameter on the issuer parameter ({ISSUER_ARN})")
        if fn in VERIFYING and not reads_keyset:
            failures.append(f"{fn}: no dynamodb:GetItem on RevokedTokensTable (the key set item, keyset#access)")
    return functions


def grants(statements, action, resource):
    """Whether an Allow statement grants `action` on exactly `resource`."""
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        if allows(as_list(st.get("Action")), action) and resource in as_list(st.get("Resource")):
            return True
    return False


def check_tables(resources, failures):
    tables = {n: r for n, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"}
    for name, res in sorted(tables.items()):
        props = res.get("Properties") or {}
        if props.get("BillingMode") != "PAY_PER_REQUEST":
            failures.append(f"{name}: BillingMode is {props.get('BillingMode')!r}, not PAY_PER_REQUEST")
        if (props.get("SSESpecification") or {}).get("SSEEnabled") is not True:
            failures.append(f"{name}: SSESpecification.SSEEnabled is not true")
        if (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
            failures.append(f"{name}: point-in-time recovery is not on")
        table_name = props.get("TableName")
        ok = (
            isinstance(table_name, dict)
            and isinstance(table_name.get("Fn::Sub"), list)
            and re.fullmatch(r"\$\{AWS::StackName\}-\$\{StackUid\}-[a-z0-9-]+", str(table_name["Fn::Sub"][0]))
            and table_name["Fn::Sub"][1] == {"StackUid": STACK_UID}
        )
        if not ok:
            failures.append(f"{name}: TableName is not !Sub <stack name>-<stack uid>-<suffix> (WARDEN_TABLE_PREFIX + suffix)")

    tool_calls = tables.get("ToolCallsTable")
    if tool_calls is None:
        failures.append("no ToolCallsTable (AWS::DynamoDB::Table)")
    else:
        props = tool_calls.get("Properties") or {}
        if (props.get("TableName") or {}).get("Fn::Sub", [""])[0] != "${AWS::StackName}-${StackUid}-tool-calls":
            failures.append("ToolCallsTable: the name's suffix is not tool-calls")
        attributes = {a.get("AttributeName"): a.get("AttributeType") for a in as_list(props.get("AttributeDefinitions"))}
        if attributes != {"call_id": "S", "workspace_id": "S"}:
            failures.append(f"ToolCallsTable: AttributeDefinitions {attributes}, expected call_id and workspace_id, both S")
        if as_list(props.get("KeySchema")) != [{"AttributeName": "call_id", "KeyType": "HASH"}]:
            failures.append("ToolCallsTable: the key is not call_id (HASH) alone")
        indexes = as_list(props.get("GlobalSecondaryIndexes"))
        expected_index = {
            "IndexName": "workspace-index",
            "KeySchema": [
                {"AttributeName": "workspace_id", "KeyType": "HASH"},
                {"AttributeName": "call_id", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        if indexes != [expected_index]:
            failures.append("ToolCallsTable: the one index is not workspace-index (workspace_id, call_id; projection ALL)")
        if props.get("TimeToLiveSpecification") != {"AttributeName": "expires_at", "Enabled": True}:
            failures.append("ToolCallsTable: TTL is not on expires_at")
    return tables


def check_table_grants(resources, tables, failures):
    def statements_of(fn):
        props = (resources.get(fn) or {}).get("Properties") or {}
        return function_statements(fn, props, [])

    table = {"Fn::GetAtt": ["ToolCallsTable", "Arn"]}
    for fn in DECIDING:
        run = statements_of(fn)
        for action in ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
            if not grants(run, action, table):
                failures.append(f"{fn}: no {action} on ToolCallsTable")
        if not grants(run, "dynamodb:ConditionCheckItem", {"Fn::GetAtt": ["AgentsTable", "Arn"]}):
            failures.append(f"{fn}: no dynamodb:ConditionCheckItem on AgentsTable (a tool call checks the agent and the tool)")
    # Listing tool calls is the HTTP route's alone.
    index = {"Fn::Sub": "${ToolCallsTable.Arn}/index/workspace-index"}
    if not grants(statements_of("AgentRunFunction"), "dynamodb:Query", index):
        failures.append("AgentRunFunction: no dynamodb:Query on ToolCallsTable's workspace-index")

    for fn, pairs in ADMIN_GRANTS.items():
        for action, resource, what in pairs:
            if not grants(statements_of(fn), action, resource):
                failures.append(f"{fn}: no {action} on {what}")
    # The audit log is append only but for its one reader.
    for fn, res in sorted(resources.items()):
        if res.get("Type") not in FUNCTION_TYPES or fn == AUDIT_READER:
            continue
        for st in statements_of(fn):
            if st.get("Effect") != "Allow":
                continue
            on_audit = any(r == "*" or refers_to(r, {"AuditLogTable"}) for r in as_list(st.get("Resource")))
            reads = [
                a
                for a in AUDIT_READS
                if allows(as_list(st.get("Action")), a) and a not in AUDIT_LEDGER_READS.get(fn, ())
            ]
            if on_audit and reads:
                failures.append(f"{fn}: {', '.join(reads)} on the audit log ({AUDIT_READER} alone reads it)")

    for fn in DESCRIBING:
        statements = statements_of(fn)
        for name, res in sorted(tables.items()):
            arn = {"Fn::GetAtt": [name, "Arn"]}
            if not grants(statements, "dynamodb:DescribeTable", arn):
                failures.append(f"{fn}: no dynamodb:DescribeTable on {name} (its table:<suffix> health check)")
            has_ttl = bool(((res.get("Properties") or {}).get("TimeToLiveSpecification") or {}).get("Enabled"))
            if has_ttl and not grants(statements, "dynamodb:DescribeTimeToLive", arn):
                failures.append(f"{fn}: no dynamodb:DescribeTimeToLive on {name}, whose items expire")


def check_outputs(template, failures):
    outputs = template.get("Outputs") or {}
    arn = (outputs.get("DecisionKeyArn") or {}).get("Value")
    if arn != {"Fn::GetAtt": [DECISION_KEY, "Arn"]}:
        failures.append(f"output DecisionKeyArn is {arn!r}, not !GetAtt {DECISION_KEY}.Arn")
    jwks = (outputs.get("DecisionJwksUri") or {}).get("Value")
    if jwks != {"Fn::Sub": "${IssuerParameter.Value}/tools/jwks.json"}:
        failures.append(f"output DecisionJwksUri is {jwks!r}, not !Sub ${{IssuerParameter.Value}}/tools/jwks.json")


def check_ledger(template, resources, failures):
    """The audit ledger (README "The audit ledger"): the checkpoint key is
    never deleted with the stack nor scheduled for deletion; the copies'
    bucket locks each object in compliance mode for at least the events'
    retention and a week; only the checkpointer writes checkpoints or
    copies, and it writes nothing else; the MAC key is read by the
    functions that write audit events and by no other."""
    key = resources.get(CHECKPOINT_KEY) or {}
    if key.get("DeletionPolicy") != "Retain" or key.get("UpdateReplacePolicy") != "Retain":
        failures.append(f"{CHECKPOINT_KEY}: DeletionPolicy and UpdateReplacePolicy are not Retain")
    for st in as_list(((key.get("Properties") or {}).get("KeyPolicy") or {}).get("Statement")):
        if st.get("Effect") == "Allow" and allows(as_list(st.get("Action")), "kms:ScheduleKeyDeletion"):
            failures.append(f"{CHECKPOINT_KEY} key policy statement {st.get('Sid')}: allows kms:ScheduleKeyDeletion")

    bucket = resources.get(LEDGER_BUCKET)
    if not bucket or bucket.get("Type") != "AWS::S3::Bucket":
        failures.append(f"no {LEDGER_BUCKET} (AWS::S3::Bucket)")
    else:
        props = bucket.get("Properties") or {}
        lock = props.get("ObjectLockConfiguration") or {}
        retention = ((lock.get("Rule") or {}).get("DefaultRetention")) or {}
        if props.get("ObjectLockEnabled") is not True or lock.get("ObjectLockEnabled") != "Enabled":
            failures.append(f"{LEDGER_BUCKET}: Object Lock is not enabled")
        if retention.get("Mode") != "COMPLIANCE":
            failures.append(f"{LEDGER_BUCKET}: the default retention is not COMPLIANCE mode")
        if not isinstance(retention.get("Days"), int) or retention["Days"] < MIN_LOCK_DAYS:
            failures.append(f"{LEDGER_BUCKET}: the default retention is not at least {MIN_LOCK_DAYS} days")
        if bucket.get("DeletionPolicy") != "Retain":
            failures.append(f"{LEDGER_BUCKET}: DeletionPolicy is not Retain")

    def statements_of(fn):
        return function_statements(fn, (resources[fn].get("Properties") or {}), [])

    functions = [n for n, r in resources.items() if r.get("Type") in FUNCTION_TYPES]
    if CHECKPOINTER not in functions:
        failures.append(f"no {CHECKPOINTER}")
    for fn in sorted(functions):
        for st in statements_of(fn):
            if st.get("Effect") != "Allow":
                continue
            actions = as_list(st.get("Action"))
            targets = as_list(st.get("Resource"))
            writes = [a for a in DYNAMODB_WRITES if allows(actions, a)]
            on_ledger = any(r == "*" or refers_to(r, {LEDGER_TABLE}) for r in targets)
            if fn != CHECKPOINTER and on_ledger and writes:
                failures.append(f"{fn}: {', '.join(writes)} on {LEDGER_TABLE} ({CHECKPOINTER} alone writes checkpoints)")
            if fn == CHECKPOINTER and writes and not all(refers_to(r, {LEDGER_TABLE}) for r in targets):
                failures.append(f"{fn}: {', '.join(writes)} beyond {LEDGER_TABLE} (it decides nothing)")
            s3_writes = [a for a in actions if str(a).lower().startswith("s3:")]
            if s3_writes and fn != CHECKPOINTER:
                failures.append(f"{fn}: {', '.join(s3_writes)} ({CHECKPOINTER} alone writes the copies)")
            if fn == CHECKPOINTER and s3_writes:
                if [str(a).lower() for a in s3_writes] != ["s3:putobject"] or targets != [
                    {"Fn::Sub": "arn:${AWS::Partition}:s3:::${CheckpointBucket}/checkpoints/*"}
                ]:
                    failures.append(f"{fn}: S3 grants other than s3:PutObject on {LEDGER_BUCKET}'s checkpoints/*")
            reads_mac = allows(actions, "secretsmanager:GetSecretValue") and any(
                r == "*" or refers_to(r, {MAC_SECRET}) for r in targets
            )
            if reads_mac and (fn == CHECKPOINTER or fn in STATIC):
                failures.append(f"{fn}: reads {MAC_SECRET}, though it writes no audit event")
        writes_audit = any(
            st.get("Effect") == "Allow"
            and allows(as_list(st.get("Action")), "dynamodb:PutItem")
            and any(refers_to(r, {"AuditLogTable"}) for r in as_list(st.get("Resource")))
            for st in statements_of(fn)
        )
        reads_mac = any(
            st.get("Effect") == "Allow"
            and allows(as_list(st.get("Action")), "secretsmanager:GetSecretValue")
            and any(refers_to(r, {MAC_SECRET}) for r in as_list(st.get("Resource")))
            for st in statements_of(fn)
        )
        if writes_audit and not reads_mac:
            failures.append(f"{fn}: writes audit events but may not read {MAC_SECRET} to seal them")

    glob = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    if glob.get("WARDEN_AUDIT_MAC_SECRET_ARN") != {"Ref": MAC_SECRET}:
        failures.append(f"Globals: WARDEN_AUDIT_MAC_SECRET_ARN is not !Ref {MAC_SECRET}")
    own = ((resources.get(CHECKPOINTER, {}).get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    if own.get("WARDEN_CHECKPOINT_BUCKET") != {"Ref": LEDGER_BUCKET}:
        failures.append(f"{CHECKPOINTER}: WARDEN_CHECKPOINT_BUCKET is not !Ref {LEDGER_BUCKET}")
    outputs = template.get("Outputs") or {}
    for name, value in LEDGER_OUTPUTS.items():
        if (outputs.get(name) or {}).get("Value") != value:
            failures.append(f"output {name} is not {value!r}")


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
                    failures.append(
                        f"{name}: allows kms:Sign (only {SIGNING}'s, {', '.join(DECIDING)}'s and {CHECKPOINTER}'s policies may)"
                    )


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
    for rule in KEY_RULES:
        check_key(resources, rule, failures)
    functions = check_functions(template, resources, failures)
    check_other_policies(resources, failures)
    tables = check_tables(resources, failures)
    check_table_grants(resources, tables, failures)
    check_outputs(template, failures)
    check_ledger(template, resources, failures)
    for line in failures:
        print(f"template rule broken: {line}", file=sys.stderr)
    print(
        f"{path}: the signing, decision and checkpoint keys and their policies, the ledger, the IAM of "
        f"{len(functions)} functions, {len(tables)} tables and the issuer checked: "
        f"{len(failures)} broken"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
