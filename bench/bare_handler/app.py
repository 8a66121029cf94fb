"""The cold-import baseline: a handler that imports only boto3 and json (bench/cold_import.py)."""

import json

import boto3


def lambda_handler(event, context):  # type: ignore[no-untyped-def]
    return {"statusCode": 200, "body": json.dumps({"boto3": boto3.__version__})}
