"""Creates the template's AWS resources in whatever endpoint boto3 points at (moto's server for
the local stack, moto's in-process mock for the tests), from the template's own definitions."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import boto3

from local.template import Template

# Resource types that exist only as names locally (nothing to create in moto).
_NAMED_ONLY = {
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::HttpApi",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Events::Rule",
    "AWS::Lambda::Permission",
}


def _physical_name(template: Template, logical: str) -> str:
    return f"{template.stack_name}-{logical}"


def _table_arguments(template: Template, name: str, props: dict[str, Any]) -> dict[str, Any]:
    props = template.resolve(props)
    arguments: dict[str, Any] = {
        "TableName": name,
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
    return arguments


def provision(template: Template) -> Template:
    """Create every resource the functions use; fill `template.physical` / `.attributes`."""
    region, account = template.region, template.account_id
    dynamodb = boto3.client("dynamodb", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    scheduler = boto3.client("scheduler", region_name=region)
    kms = boto3.client("kms", region_name=region)

    # Names first: resources refer to each other (roles to functions, functions to queues).
    for logical, resource in template.resources.items():
        name = _physical_name(template, logical)
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            template.physical[logical] = name
            template.attributes[f"{logical}.Arn"] = arn
        elif kind == "AWS::IAM::Role":
            template.physical[logical] = name
            template.attributes[f"{logical}.Arn"] = f"arn:aws:iam::{account}:role/{name}"
        elif kind in _NAMED_ONLY or kind.startswith("AWS::CloudWatch"):
            template.physical[logical] = name
            template.attributes[f"{logical}.Arn"] = f"arn:aws:local:{region}:{account}:{name}"

    for logical, resource in template.resources.items():
        name = _physical_name(template, logical)
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            arguments = _table_arguments(template, name, props)
            with suppress(dynamodb.exceptions.ResourceInUseException):
                dynamodb.create_table(**arguments)
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "AttributeName": ttl["AttributeName"],
                        "Enabled": True,
                    },
                )
            template.physical[logical] = name
            template.attributes[f"{logical}.Arn"] = (
                f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            )
        elif kind == "AWS::S3::Bucket":
            bucket = name.lower()
            with suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                s3.create_bucket(Bucket=bucket)
            template.physical[logical] = bucket
            template.attributes[f"{logical}.Arn"] = f"arn:aws:s3:::{bucket}"
        elif kind == "AWS::SQS::Queue":
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            template.physical[logical] = url
            template.attributes[f"{logical}.Arn"] = f"arn:aws:sqs:{region}:{account}:{name}"
            template.attributes[f"{logical}.QueueName"] = name
        elif kind == "AWS::Scheduler::ScheduleGroup":
            group = template.resolve(props.get("Name")) or name
            with suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule_group(Name=group)
            template.physical[logical] = group
            template.attributes[f"{logical}.Arn"] = (
                f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"
            )
        elif kind == "AWS::KMS::Key":
            key = kms.create_key(Description=f"{name} (local)")["KeyMetadata"]
            template.physical[logical] = key["KeyId"]
            template.attributes[f"{logical}.Arn"] = key["Arn"]
    return template


def function_environments(template: Template) -> dict[str, dict[str, str]]:
    """Each function's resolved environment, by logical id."""
    return {
        name: template.function_environment(name)
        for name in template.of_type("AWS::Serverless::Function")
    }
