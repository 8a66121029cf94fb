"""What IAM permission each AWS call needs, and whether a function's policies in the template
grant it: the least-privilege checks of the integration tests."""

from __future__ import annotations

import fnmatch
from typing import Any

from tests.support import AwsStack

TRANSACTION_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# S3 operations and the IAM action that authorises them (multipart steps are s3:PutObject).
S3_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
}


def required_permissions(
    stack: AwsStack, operation: str, params: dict[str, Any]
) -> list[tuple[str, str]]:
    """(action, resource ARN) pairs the call `service.Operation` with `params` needs."""
    region, account = stack.template.region, stack.template.account_id
    service, name = operation.split(".")
    if service == "dynamodb":
        table_arn = _table_arn(stack, params)
        if name == "TransactWriteItems":
            return [
                (f"dynamodb:{TRANSACTION_PARTS[next(iter(p))]}", table_arn)
                for p in params["TransactItems"]
            ]
        if name == "Query" and params.get("IndexName"):
            return [("dynamodb:Query", f"{table_arn}/index/{params['IndexName']}")]
        return [(f"dynamodb:{name}", table_arn)]
    if service == "s3":
        action = S3_ACTIONS[name]
        if params.get("VersionId") and action in ("s3:GetObject", "s3:DeleteObject"):
            action += "Version"  # a call naming a version needs the ...Version permission
        return [(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if service == "sqs":
        queue = params["QueueUrl"].rstrip("/").rsplit("/", 1)[1]
        action = {"SendMessageBatch": "SendMessage"}.get(name, name)
        return [(f"sqs:{action}", f"arn:aws:sqs:{region}:{account}:{queue}")]
    if service == "kms":
        # Decrypt names no key: the ciphertext does (the project has one key).
        return [(f"kms:{name}", params.get("KeyId") or stack.template.attributes["TokenKey.Arn"])]
    if service == "ssm":
        return [(f"ssm:{name}", f"arn:aws:ssm:{region}:{account}:parameter{params['Name']}")]
    if service == "scheduler":
        group = params.get("GroupName", "default")
        arn = f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{params['Name']}"
        needed = [(f"scheduler:{name}", arn)]
        if name in ("CreateSchedule", "UpdateSchedule"):
            needed.append(("iam:PassRole", params["Target"]["RoleArn"]))
        return needed
    raise AssertionError(f"unexpected call {operation}")


def _table_arn(stack: AwsStack, params: dict[str, Any]) -> str:
    """The ARN of the template's table a DynamoDB call names."""
    template = stack.template
    if name := params.get("TableName"):
        for logical in template.of_type("AWS::DynamoDB::Table"):
            if template.physical.get(logical) == name:
                return template.attributes[f"{logical}.Arn"]
    return template.attributes["Table.Arn"]  # BatchGetItem and transactions: the main table


def statements(stack: AwsStack, function: str) -> list[dict[str, Any]]:
    """The function's inline policies and any policy resource attached to its role."""
    template = stack.template
    found: list[dict[str, Any]] = []
    for policy in template.resolve(
        template.resources[function]["Properties"].get("Policies") or []
    ):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    for resource in template.of_type("AWS::IAM::Policy").values():
        roles = resource["Properties"].get("Roles") or []
        if {"Ref": f"{function}Role"} in roles:
            found.extend(template.resolve(resource["Properties"]["PolicyDocument"]["Statement"]))
    return found


def allowed(stack: AwsStack, function: str, action: str, resource: str) -> bool:
    """Whether one of the function's Allow statements grants `action` on `resource`."""
    for statement in statements(stack, function):
        actions = statement["Action"]
        resources = statement["Resource"]
        actions = actions if isinstance(actions, list) else [actions]
        resources = resources if isinstance(resources, list) else [resources]
        if (
            statement["Effect"] == "Allow"
            and action in actions
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)
        ):
            return True
    return False
