"""template.yaml says what the design says: runtime, one function per endpoint and the design's
routes, the authorizer, the table, the Scheduler pieces, a private bucket and least privilege.
(cfn-lint, `sam validate --lint` and `sam build` run as separate steps of `make test`.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.aws.template import Template, load_template
from post_scheduler.adapters.table import DUE_PROJECTION

# The design's routes: (method, path) -> (function, public).
DESIGN_ROUTES = {
    ("POST", "/api/v1/schedule/create"): ("CreateScheduleFunction", False),
    ("POST", "/api/v1/schedule"): ("CreateScheduleFunction", False),
    ("GET", "/api/v1/schedule/scheduled-videos"): ("ListScheduledVideosFunction", False),
    ("PUT", "/api/v1/schedule/{scheduleId}"): ("UpdateScheduleFunction", False),
    ("DELETE", "/api/v1/schedule/{scheduleId}"): ("DeleteScheduleFunction", False),
    ("GET", "/api/v1/schedule/upcoming"): ("UpcomingFunction", True),
    ("GET", "/api/v1/videos"): ("ListVideosFunction", False),
    ("GET", "/api/v1/tiktok-accounts"): ("ListTikTokAccountsFunction", False),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def template(document: dict[str, Any]) -> Template:
    return Template(document)


def resources_of(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in document["Resources"].items() if v["Type"] == kind}


def props(document: dict[str, Any], logical: str) -> dict[str, Any]:
    value: dict[str, Any] = document["Resources"][logical].get("Properties", {})
    return value


# --- functions and routes -----------------------------------------------------------------------


def test_every_function_runs_python_3_13_from_globals(document: dict[str, Any]) -> None:
    assert document["Globals"]["Function"]["Runtime"] == "python3.13"
    functions = resources_of(document, "AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        assert function["Properties"].get("Runtime", "python3.13") == "python3.13", name
        assert function["Properties"]["Handler"] == "app.lambda_handler", name


def test_every_function_uses_the_shared_layer(document: dict[str, Any]) -> None:
    assert document["Globals"]["Function"]["Layers"] == [{"Ref": "SharedLayer"}]
    for name, function in resources_of(document, "AWS::Serverless::Function").items():
        assert "Layers" not in function["Properties"], name


def test_the_layer_is_built_for_python_3_13(document: dict[str, Any]) -> None:
    layer = document["Resources"]["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["ContentUri"] == "layers/shared/"
    assert "python3.13" in layer["Properties"]["CompatibleRuntimes"]


def test_the_designs_routes(template: Template) -> None:
    routes = {(r.method, r.path): (r.function, r.public) for r in template.http_routes()}
    for route, expected in DESIGN_ROUTES.items():
        assert routes.get(route) == expected, route


def test_routes_are_unique(template: Template) -> None:
    keys = [r.route_key for r in template.http_routes()]
    assert len(keys) == len(set(keys))


def test_one_function_per_endpoint(template: Template) -> None:
    """Each function serves one endpoint; only create has two paths (the reference's base
    endpoint), and the design's functions serve nothing else."""
    by_function: dict[str, set[tuple[str, str]]] = {}
    for route in template.http_routes():
        by_function.setdefault(route.function, set()).add((route.method, route.path))
    for function, routes in by_function.items():
        if function == "CreateScheduleFunction":
            assert routes == {("POST", "/api/v1/schedule/create"), ("POST", "/api/v1/schedule")}
        else:
            assert len(routes) == 1, (function, routes)
    designed = {function for function, _ in DESIGN_ROUTES.values()}
    assert designed <= set(by_function)


def test_function_code_folders_exist(template: Template) -> None:
    for name in template.of_type("AWS::Serverless::Function"):
        folder, handler = template.function_code(name)
        assert (folder / f"{handler.split('.')[0]}.py").is_file(), name


def test_only_upcoming_is_public_among_the_designs_routes(template: Template) -> None:
    public = {(r.method, r.path) for r in template.http_routes() if r.public}
    assert ("GET", "/api/v1/schedule/upcoming") in public
    assert not (
        public & {route for route, (_, is_public) in DESIGN_ROUTES.items() if not is_public}
    )


def test_routes_sit_on_the_one_http_api(document: dict[str, Any]) -> None:
    (api_name,) = resources_of(document, "AWS::Serverless::HttpApi")
    for name, function in resources_of(document, "AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                assert event["Properties"]["ApiId"] == {"Ref": api_name}, name


# --- the authorizer -----------------------------------------------------------------------------


def test_authorizer(document: dict[str, Any]) -> None:
    (api,) = resources_of(document, "AWS::Serverless::HttpApi").values()
    auth = api["Properties"]["Auth"]
    default = auth["DefaultAuthorizer"]
    authorizer = auth["Authorizers"][default]
    # The alias SAM publishes, so that the authorizer too resumes from a SnapStart snapshot.
    assert authorizer["FunctionArn"] == {"Ref": "AuthorizerFunction.Alias"}
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    # No identity source and no gateway cache: the authorizer runs on every request (a request
    # without the header gets our envelope; a revoked key stops within seconds).
    assert authorizer["Identity"] == {"ReauthorizeEvery": 0}
    memory = document["Parameters"]["AuthorizerCacheSeconds"]
    assert 0 < memory["Default"] <= memory["MaxValue"] <= 10
    variables = props(document, "AuthorizerFunction")["Environment"]["Variables"]
    assert variables["AUTHORIZER_CACHE_SECONDS"] == {"Ref": "AuthorizerCacheSeconds"}


def test_authorizer_function_settings(document: dict[str, Any]) -> None:
    variables = props(document, "AuthorizerFunction")["Environment"]["Variables"]
    assert variables["JWT_ISSUER"] == {"Ref": "JwtIssuer"}
    assert variables["JWT_AUDIENCE"] == {"Ref": "JwtAudience"}
    assert variables["JWT_SECRET_PARAMETER"] == {"Ref": "JwtSecretParameterName"}
    assert variables["JWT_JWKS_URL"] == {"Ref": "JwtJwksUrl"}
    assert "AuthorizerFunction" not in {r.function for r in Template(document).http_routes()}


def test_parameters(document: dict[str, Any]) -> None:
    parameters = document["Parameters"]
    for name in ("Stage", "MinScheduleLeadSeconds", "JwtIssuer", "JwtAudience"):
        assert name in parameters
    assert parameters["MinScheduleLeadSeconds"]["Default"] == 900
    assert document["Globals"]["Function"]["Environment"]["Variables"][
        "MIN_SCHEDULE_LEAD_SECONDS"
    ] == {"Ref": "MinScheduleLeadSeconds"}
    assert "ApiUrl" in document["Outputs"]


# --- data -----------------------------------------------------------------------------------------


def test_table(document: dict[str, Any]) -> None:
    assert set(resources_of(document, "AWS::DynamoDB::Table")) == {"Table", "IdempotencyTable"}
    name = "Table"
    table = props(document, name)
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["TimeToLiveSpecification"]["Enabled"] is True
    assert table["TimeToLiveSpecification"]["AttributeName"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert [k["AttributeName"] for k in indexes["UserIndex"]["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    due = indexes["DueShardIndex"]
    assert [k["AttributeName"] for k in due["KeySchema"]] == ["dueShard", "dueAt"]
    # Only what upcoming and the sweep read: upload progress never writes the index.
    assert due["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": list(DUE_PROJECTION),
    }
    assert document["Resources"][name].get("DeletionPolicy") == "Retain"


def test_idempotency_table(document: dict[str, Any]) -> None:
    """Powertools' default layout: `id` key, TTL on `expiration` (records live 24 hours)."""
    table = props(document, "IdempotencyTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["id"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_bucket_is_private_encrypted_and_tls_only(document: dict[str, Any]) -> None:
    (name,) = resources_of(document, "AWS::S3::Bucket")
    bucket = props(document, name)
    block = bucket["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"
    ))  # fmt: skip
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    policies = [
        p for p in resources_of(document, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": name}
    ]  # fmt: skip
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    tls = [s for s in statements if s.get("Condition", {}).get("Bool", {}).get(
        "aws:SecureTransport") in ("false", False)]  # fmt: skip
    assert tls
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in tls)
    assert not [s for s in statements if s["Effect"] == "Allow" and s.get("Principal") == "*"]


# --- scheduling -----------------------------------------------------------------------------------


def test_schedule_group(document: dict[str, Any]) -> None:
    groups = resources_of(document, "AWS::Scheduler::ScheduleGroup")
    assert list(groups) == ["ScheduleGroup"]
    for function in ("CreateScheduleFunction", "UpdateScheduleFunction"):
        variables = props(document, function)["Environment"]["Variables"]
        assert variables["SCHEDULE_GROUP"] == {"Ref": "ScheduleGroup"}
        assert variables["PUBLISH_QUEUE_ARN"] == {"Fn::GetAtt": ["PublishQueue", "Arn"]}
        assert variables["SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
        assert variables["SCHEDULER_DLQ_ARN"] == {"Fn::GetAtt": ["SchedulerDeadLetterQueue", "Arn"]}


def test_scheduler_role(document: dict[str, Any]) -> None:
    role = props(document, "SchedulerRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    invoke = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    assert len(invoke) == 1
    assert _actions(invoke[0]) == ["lambda:InvokeFunction"]
    resources = invoke[0]["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    assert {"Fn::GetAtt": ["PublisherFunction", "Arn"]} in resources
    for resource in resources:
        assert "PublisherFunction" in str(resource)
    others = [s for s in statements if s is not invoke[0]]
    assert all(_actions(s) == ["sqs:SendMessage"] for s in others)
    assert sorted(s["Resource"]["Fn::GetAtt"][0] for s in others) == [
        "PublishQueue",
        "SchedulerDeadLetterQueue",
    ]


def test_schedules_deliver_to_the_publish_queue_consumed_in_bounded_batches(
    document: dict[str, Any],
) -> None:
    publisher = props(document, "PublisherFunction")
    (event,) = publisher["Events"].values()
    assert event["Type"] == "SQS"
    settings = event["Properties"]
    assert settings["Queue"] == {"Fn::GetAtt": ["PublishQueue", "Arn"]}
    assert settings["BatchSize"] == {"Ref": "PublisherBatchSize"}
    assert settings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert settings["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "PublisherMaximumConcurrency"}
    }
    assert settings["MaximumBatchingWindowInSeconds"] >= 1  # required above 10 messages
    parameters = document["Parameters"]
    assert parameters["PublisherBatchSize"]["Default"] >= 10
    assert 2 <= parameters["PublisherMaximumConcurrency"]["Default"] <= 1000
    queue = props(document, "PublishQueue")
    # Never handed out again while an invocation holding it may still run.
    assert queue["VisibilityTimeout"] >= publisher["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["PublisherFailureQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
    # A redriven message can keep its receive count: the give-up consumer must still get it.
    failures = props(document, "PublisherFailureQueue")
    assert (
        failures["RedrivePolicy"]["maxReceiveCount"]
        >= queue["RedrivePolicy"]["maxReceiveCount"] + 5
    )
    variables = publisher["Environment"]["Variables"]
    assert variables["PUBLISH_QUEUE_URL"] == {"Ref": "PublishQueue"}


def test_route_throttles_are_parameters_with_production_defaults(
    document: dict[str, Any],
) -> None:
    settings = props(document, "HttpApi")["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert document["Parameters"]["ApiThrottlingRateLimit"]["Default"] == 1000
    assert document["Parameters"]["ApiThrottlingBurstLimit"]["Default"] == 2000


def test_the_dead_letter_queue_is_a_standard_queue(document: dict[str, Any]) -> None:
    queue = props(document, "SchedulerDeadLetterQueue")
    assert not queue.get("FifoQueue")
    assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId")


def test_only_create_and_update_may_pass_the_scheduler_role(document: dict[str, Any]) -> None:
    for name in resources_of(document, "AWS::Serverless::Function"):
        for statement in _function_statements(document, name):
            if "iam:PassRole" in _actions(statement):
                assert name in (
                    "CreateScheduleFunction",
                    "UpdateScheduleFunction",
                    "RetryScheduleFunction",
                    "SweepFunction",
                )
                assert statement["Resource"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
                assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == (
                    "scheduler.amazonaws.com"
                )


# --- least privilege ----------------------------------------------------------------------------


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def _function_statements(document: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    for policy in props(document, name).get("Policies") or []:
        yield from _statements_in(policy)


def _statements_in(value: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement inside `value`, through Fn::If branches."""
    if isinstance(value, list):
        for item in value:
            yield from _statements_in(item)
    elif isinstance(value, dict):
        if "Fn::If" in value:
            for branch in value["Fn::If"][1:]:
                yield from _statements_in(branch)
        elif "Effect" in value:
            yield value
        else:
            for key, item in value.items():
                if key in ("Statement", "PolicyDocument", "Policies") or isinstance(item, list):
                    yield from _statements_in(item)


def _all_statements(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical, resource in document["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("Policies", "PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            for statement in _statements_in(properties.get(key)):
                yield logical, statement


def test_no_wildcard_actions(document: dict[str, Any]) -> None:
    """No Allow statement grants `*` or `service:*`; the only exception is the KMS key policy's
    statement that lets the account (root) administer its key, which AWS requires."""
    found = []
    for logical, statement in _all_statements(document):
        if statement["Effect"] != "Allow":
            continue  # a Deny on s3:* (TLS only) takes rights away
        wildcards = [a for a in _actions(statement) if "*" in a]
        if not wildcards:
            continue
        resource = document["Resources"][logical]
        root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
        if resource["Type"] == "AWS::KMS::Key" and statement.get("Principal") == root:
            continue
        found.append((logical, wildcards))
    assert found == []


def test_no_wildcard_resources_for_data(document: dict[str, Any]) -> None:
    for name in resources_of(document, "AWS::Serverless::Function"):
        for statement in _function_statements(document, name):
            if any(a.split(":")[0] in ("dynamodb", "s3", "scheduler", "sqs", "kms", "ssm")
                   for a in _actions(statement)):  # fmt: skip
                assert statement.get("Resource") not in ("*", ["*"]), (name, statement)


def test_no_managed_policy_templates_with_broad_rights(document: dict[str, Any]) -> None:
    broad = {
        "DynamoDBCrudPolicy",
        "AmazonDynamoDBFullAccess",
        "S3FullAccessPolicy",
        "AdministratorAccess",
    }
    for name in resources_of(document, "AWS::Serverless::Function"):
        for policy in props(document, name).get("Policies") or []:
            if isinstance(policy, dict):
                assert not broad & set(policy), name
            else:
                assert policy not in broad, name


@pytest.mark.parametrize(
    ("function", "may"),
    [
        ("UpcomingFunction", {"dynamodb:Query"}),
        ("ListScheduledVideosFunction", {"dynamodb:Query", "dynamodb:BatchGetItem"}),
        ("ListVideosFunction", {"dynamodb:Query"}),
        ("ListTikTokAccountsFunction", {"dynamodb:Query"}),
        ("GetScheduleFunction", {"dynamodb:GetItem", "dynamodb:BatchGetItem"}),
        ("ScheduleQuotaFunction", {"dynamodb:GetItem"}),
    ],
)
def test_read_only_functions_cannot_write(
    document: dict[str, Any], function: str, may: set[str]
) -> None:
    actions = {a for s in _function_statements(document, function) for a in _actions(s)}
    assert actions <= may | {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, actions


def test_the_upcoming_function_reads_only_the_due_index(document: dict[str, Any]) -> None:
    (statement,) = _function_statements(document, "UpcomingFunction")
    assert statement["Resource"] == {"Fn::Sub": "${Table.Arn}/index/DueShardIndex"}


# --- hardening ------------------------------------------------------------------------------------


# What the code sends to each KMS key (adapters/token_cipher.py for TikTok tokens and, through
# the same cipher, webhook secrets in domain/webhooks.py; adapters/page_seal.py).
KEY_CONTEXTS = {
    "TokenKey": {"accountId": None, "purpose": ["access", "refresh", "webhook-secret"]},
    "PageTokenKey": {"purpose": ["page-token"]},
}
CRYPTO = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncrypt*"}


def test_kms_keys_allow_cryptography_only_with_the_codes_encryption_context(
    document: dict[str, Any],
) -> None:
    from post_scheduler.adapters.page_seal import KmsKeyRing
    from post_scheduler.adapters.token_cipher import TokenCipher
    from post_scheduler.domain.webhooks import SECRET_PURPOSE

    assert set(TokenCipher._context("a", "access")) == set(KEY_CONTEXTS["TokenKey"])
    assert KmsKeyRing.CONTEXT == {"purpose": "page-token"}
    assert SECRET_PURPOSE in KEY_CONTEXTS["TokenKey"]["purpose"]
    assert set(resources_of(document, "AWS::KMS::Key")) == set(KEY_CONTEXTS)
    for key, context in KEY_CONTEXTS.items():
        statements = props(document, key)["KeyPolicy"]["Statement"]
        for statement in statements:
            actions = set(_actions(statement))
            assert "kms:*" not in actions, (key, statement)
            if not actions & (CRYPTO | {"kms:GenerateDataKey*"}):
                continue
            condition = statement["Condition"]
            for name, values in context.items():
                if values is None:
                    assert condition["Null"][f"kms:EncryptionContext:{name}"] == "false"
                else:
                    assert condition["StringEquals"][f"kms:EncryptionContext:{name}"] == values
        granted = {a for s in statements if "Condition" in s for a in _actions(s)}
        assert {"kms:Encrypt", "kms:Decrypt"} <= granted or "kms:GenerateDataKey" in granted


def test_every_function_has_a_log_group_with_the_retention_parameter(
    document: dict[str, Any],
) -> None:
    assert document["Parameters"]["LogRetentionDays"]["Default"] == 30
    groups = resources_of(document, "AWS::Logs::LogGroup")
    used = set()
    for function in resources_of(document, "AWS::Serverless::Function"):
        logging = props(document, function).get("LoggingConfig") or {}
        group = logging.get("LogGroup", {}).get("Ref")
        assert group in groups, f"{function} has no log group of its own"
        assert group not in used, f"{function} shares {group}"
        used.add(group)
    for name in groups:
        assert props(document, name)["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_s3_grants_are_scoped_to_the_videos_prefix(document: dict[str, Any]) -> None:
    for logical, statement in _all_statements(document):
        if statement["Effect"] != "Allow":
            continue
        if any(a.startswith("s3:") for a in _actions(statement)):
            assert statement["Resource"] == {"Fn::Sub": "${VideoBucket.Arn}/videos/*"}, logical


def test_every_scan_skip_gives_its_reason(document: dict[str, Any]) -> None:
    """`make scan` (checkov) fails on any finding not skipped in the template's metadata; a skip
    must say why in one line."""
    skipped = 0
    for logical, resource in document["Resources"].items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_"), logical
            assert 20 <= len(skip["comment"]) <= 140, skip
            assert "\n" not in skip["comment"], skip
            skipped += 1
    assert skipped > 0
    # Only the checks whose findings are accepted (see the template's Metadata.ScanSkips).
    ids = {
        skip["id"]
        for resource in document["Resources"].values()
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    }
    assert ids == {
        "CKV_AWS_117",
        "CKV_AWS_115",
        "CKV_AWS_173",
        "CKV_AWS_116",
        "CKV_AWS_158",
        "CKV_AWS_27",
        "CKV_AWS_119",
        "CKV_AWS_18",
    }


def test_the_xray_sdk_is_off_unless_the_deployer_asks(document: dict[str, Any]) -> None:
    parameter = document["Parameters"]["XRaySdk"]
    assert parameter["Default"] == "false"
    assert set(parameter["AllowedValues"]) == {"true", "false"}
    variables = document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Fn::If": ["UseXRaySdk", "false", "true"]}
    assert document["Conditions"]["UseXRaySdk"] == {"Fn::Equals": [{"Ref": "XRaySdk"}, "true"]}
    # Lambda's own tracing still records every invocation.
    assert document["Globals"]["Function"]["Tracing"] == "Active"


def test_snapstart_is_a_parameter_off_by_default(document: dict[str, Any]) -> None:
    parameter = document["Parameters"]["SnapStart"]
    assert parameter["Default"] == "Disabled"
    assert set(parameter["AllowedValues"]) == {"Enabled", "Disabled"}
    assert document["Conditions"]["UseSnapStart"] == {
        "Fn::Equals": [{"Ref": "SnapStart"}, "Enabled"]
    }
    function = document["Globals"]["Function"]
    assert function["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}
    }
    # SnapStart needs published versions; SAM's AutoPublishAlias must be a plain string, so
    # every function publishes one, and SAM points the API, event sources and S3 at the alias.
    assert function["AutoPublishAlias"] == "live"
    for name, resource in resources_of(document, "AWS::Serverless::Function").items():
        assert "AutoPublishAlias" not in resource["Properties"], name
        assert "SnapStart" not in resource["Properties"], name
        # Ephemeral storage above 512 MB and EFS rule SnapStart out.
        assert resource["Properties"].get("EphemeralStorage", {}).get("Size", 512) <= 512, name
        assert "FileSystemConfigs" not in resource["Properties"], name
        assert "ProvisionedConcurrencyConfig" not in resource["Properties"], name


def test_direct_invocations_of_the_publisher_keep_their_failure_destination(
    document: dict[str, Any],
) -> None:
    """The SAM EventInvokeConfig belongs to the alias; old schedules invoke $LATEST."""
    on_alias = props(document, "PublisherFunction")["EventInvokeConfig"]
    latest = props(document, "PublisherLatestInvokeConfig")
    assert document["Resources"]["PublisherLatestInvokeConfig"]["Type"] == (
        "AWS::Lambda::EventInvokeConfig"
    )
    assert latest["FunctionName"] == {"Ref": "PublisherFunction"}
    assert latest["Qualifier"] == "$LATEST"
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        assert latest[key] == on_alias[key]
    assert (
        latest["DestinationConfig"]["OnFailure"]["Destination"]
        == (on_alias["DestinationConfig"]["OnFailure"]["Destination"])
    )
