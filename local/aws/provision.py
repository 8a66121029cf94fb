"""Creates the template's AWS resources in whatever endpoint boto3 points at (moto's server for
the local stack, moto's in-process mock for the tests), from the template's own definitions.

Resources are created in the order their references require (a queue's redrive policy names
another queue, a schedule names a function), so the template may declare them in any order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import boto3

from local.aws.template import Template, references

# CloudFormation queue properties that are SQS queue attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "SqsManagedSseEnabled",
)
_QUEUE_POLICIES = ("RedrivePolicy", "RedriveAllowPolicy")


def physical_name(template: Template, logical: str) -> str:
    """The name the local stack gives a resource that has no explicit name."""
    return f"{template.stack_name}-{logical}"


_physical_name = physical_name  # the name earlier callers know


def _table_arguments(template: Template, name: str, props: dict[str, Any]) -> dict[str, Any]:
    props = template.resolve(props)
    arguments: dict[str, Any] = {
        "TableName": props.get("TableName") or name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            for index in props["GlobalSecondaryIndexes"]
        ]
    if props.get("SSESpecification", {}).get("SSEEnabled"):
        arguments["SSESpecification"] = {"Enabled": True}
    if props.get("StreamSpecification"):
        view = props["StreamSpecification"]["StreamViewType"]
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    return arguments


def _creation_order(template: Template) -> list[str]:
    """Logical ids, each after the resources it refers to (template order otherwise)."""
    resources = template.resources
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical: str) -> None:
        if logical in ordered or logical in visiting:
            return  # done, or a cycle: keep template order
        visiting.add(logical)
        for other in sorted(references(resources[logical].get("Properties", {}))):
            if other in resources:
                visit(other)
        visiting.discard(logical)
        ordered.append(logical)

    for logical in resources:
        visit(logical)
    return ordered


class _Provisioner:
    def __init__(self, template: Template) -> None:
        self.template = template
        region = template.region
        self.dynamodb = boto3.client("dynamodb", region_name=region)
        self.s3 = boto3.client("s3", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.scheduler = boto3.client("scheduler", region_name=region)
        self.kms = boto3.client("kms", region_name=region)
        self.sns = boto3.client("sns", region_name=region)
        self.creators: dict[str, Callable[[str, str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self.table,
            "AWS::S3::Bucket": self.bucket,
            "AWS::SQS::Queue": self.queue,
            "AWS::Scheduler::ScheduleGroup": self.schedule_group,
            "AWS::Scheduler::Schedule": self.schedule,
            "AWS::KMS::Key": self.key,
            "AWS::SNS::Topic": self.topic,
        }

    def name_everything(self) -> None:
        """Names first: resources refer to each other (roles to functions, functions to queues).
        Every resource gets a name and an ARN; those created below get their real ones."""
        template = self.template
        region, account = template.region, template.account_id
        for logical, resource in template.resources.items():
            name = physical_name(template, logical)
            kind = resource["Type"]
            template.physical.setdefault(logical, name)
            if kind == "AWS::Serverless::Function":
                arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            elif kind == "AWS::IAM::Role":
                arn = f"arn:aws:iam::{account}:role/{name}"
            else:
                arn = f"arn:aws:local:{region}:{account}:{name}"
            template.attributes.setdefault(f"{logical}.Arn", arn)

    def create_everything(self) -> None:
        for logical in _creation_order(self.template):
            resource = self.template.resources[logical]
            condition = resource.get("Condition")
            if condition and not self.template.condition(condition):
                continue
            creator = self.creators.get(resource["Type"])
            if creator is not None:
                creator(logical, physical_name(self.template, logical), resource)
        self.function_schedules()

    # --- one creator per resource type --------------------------------------------------------

    def table(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        template = self.template
        props = resource.get("Properties", {})
        arguments = _table_arguments(template, name, props)
        name = arguments["TableName"]
        with suppress(self.dynamodb.exceptions.ResourceInUseException):
            self.dynamodb.create_table(**arguments)
        ttl = template.resolve(props.get("TimeToLiveSpecification"))
        if ttl and ttl.get("Enabled"):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        template.physical[logical] = name
        template.attributes[f"{logical}.Arn"] = (
            f"arn:aws:dynamodb:{template.region}:{template.account_id}:table/{name}"
        )
        if "StreamSpecification" in arguments:
            description = self.dynamodb.describe_table(TableName=name)["Table"]
            template.attributes[f"{logical}.StreamArn"] = description["LatestStreamArn"]

    def bucket(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        template = self.template
        props = template.resolve(resource.get("Properties", {}))
        bucket = str(props.get("BucketName") or name).lower()
        with suppress(
            self.s3.exceptions.BucketAlreadyOwnedByYou, self.s3.exceptions.BucketAlreadyExists
        ):
            self.s3.create_bucket(Bucket=bucket)
        versioning = (props.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            self.s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": versioning}
            )
        template.physical[logical] = bucket
        template.attributes[f"{logical}.Arn"] = f"arn:aws:s3:::{bucket}"
        template.attributes[f"{logical}.DomainName"] = f"{bucket}.s3.amazonaws.com"

    def queue(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        template = self.template
        props = template.resolve(resource.get("Properties", {}))
        queue_name = str(props.get("QueueName") or name)
        if props.get("FifoQueue") and not queue_name.endswith(".fifo"):
            queue_name += ".fifo"
        attributes = {
            key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            for key in _QUEUE_ATTRIBUTES
            if props.get(key) is not None
        }
        for key in _QUEUE_POLICIES:
            if props.get(key):
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        url = self.sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{template.region}:{template.account_id}:{queue_name}"
        template.physical[logical] = url
        template.attributes[f"{logical}.Arn"] = arn
        template.attributes[f"{logical}.QueueName"] = queue_name
        template.attributes[f"{logical}.QueueUrl"] = url

    def schedule_group(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        template = self.template
        group = template.resolve(resource.get("Properties", {}).get("Name")) or name
        with suppress(self.scheduler.exceptions.ConflictException):
            self.scheduler.create_schedule_group(Name=group)
        template.physical[logical] = group
        template.attributes[f"{logical}.Arn"] = (
            f"arn:aws:scheduler:{template.region}:{template.account_id}:schedule-group/{group}"
        )

    def schedule(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        """A schedule the template declares (moto keeps it; the local scheduler loop runs it)."""
        template = self.template
        props = template.resolve(resource.get("Properties", {}))
        schedule_name = str(props.get("Name") or name)
        group = str(props.get("GroupName") or "default")
        arguments = {k: v for k, v in props.items() if k not in ("Name", "GroupName")}
        self._put_schedule(schedule_name, group, arguments)
        template.physical[logical] = schedule_name
        template.attributes[f"{logical}.Arn"] = (
            f"arn:aws:scheduler:{template.region}:{template.account_id}"
            f":schedule/{group}/{schedule_name}"
        )

    def function_schedules(self) -> None:
        """What SAM makes of a function's `ScheduleV2` events: Scheduler schedules targeting
        the function (the local scheduler loop runs them as it runs every schedule)."""
        template = self.template
        for function in template.of_type("AWS::Serverless::Function"):
            for event_name, event in template.function_events(function, "ScheduleV2").items():
                props = template.resolve(event.get("Properties", {}))
                target: dict[str, Any] = {
                    "Arn": template.attributes[f"{function}.Arn"],
                    "RoleArn": props.get("RoleArn")
                    or f"arn:aws:iam::{template.account_id}:role/{function}{event_name}Role",
                }
                for key in ("Input", "RetryPolicy", "DeadLetterConfig"):
                    if props.get(key):
                        target[key] = props[key]
                arguments: dict[str, Any] = {
                    "ScheduleExpression": props["ScheduleExpression"],
                    "FlexibleTimeWindow": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                    "State": props.get("State") or "ENABLED",
                    "Target": target,
                }
                for key in ("ScheduleExpressionTimezone", "StartDate", "EndDate", "Description"):
                    if props.get(key):
                        arguments[key] = props[key]
                name = str(props.get("Name") or f"{function}{event_name}")
                self._put_schedule(name, str(props.get("GroupName") or "default"), arguments)

    def _put_schedule(self, name: str, group: str, arguments: dict[str, Any]) -> None:
        try:
            self.scheduler.create_schedule(Name=name, GroupName=group, **arguments)
        except self.scheduler.exceptions.ConflictException:
            self.scheduler.update_schedule(Name=name, GroupName=group, **arguments)

    def key(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        template = self.template
        description = template.resolve(resource.get("Properties", {}).get("Description"))
        key = self.kms.create_key(Description=f"{description or name} (local)")["KeyMetadata"]
        template.physical[logical] = key["KeyId"]
        template.attributes[f"{logical}.Arn"] = key["Arn"]
        template.attributes[f"{logical}.KeyId"] = key["KeyId"]

    def topic(self, logical: str, name: str, resource: dict[str, Any]) -> None:
        props = self.template.resolve(resource.get("Properties", {}))
        topic_name = str(props.get("TopicName") or name)
        arn = self.sns.create_topic(Name=topic_name)["TopicArn"]
        self.template.physical[logical] = arn
        self.template.attributes[f"{logical}.TopicArn"] = arn
        self.template.attributes[f"{logical}.TopicName"] = topic_name


def provision(template: Template) -> Template:
    """Create every resource the functions use; fill `template.physical` / `.attributes`."""
    provisioner = _Provisioner(template)
    provisioner.name_everything()
    provisioner.create_everything()
    return template


def put_secure_parameter(template: Template, name: str, value: str) -> None:
    """An SSM SecureString the deployer creates before deploying (the template names it)."""
    ssm = boto3.client("ssm", region_name=template.region)
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def queue_url(template: Template, arn: str) -> str:
    """The URL of the queue with this ARN (a template queue, or any queue by name)."""
    logical = template.logical_for_arn(arn)
    if logical is not None and f"{logical}.QueueUrl" in template.attributes:
        return template.attributes[f"{logical}.QueueUrl"]
    sqs = boto3.client("sqs", region_name=template.region)
    url: str = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
    return url


def function_environments(template: Template) -> dict[str, dict[str, str]]:
    """Each function's resolved environment, by logical id."""
    return {
        name: template.function_environment(name)
        for name in template.of_type("AWS::Serverless::Function")
    }
