"""AWS on loopback: moto's resources provisioned from the template, the Lambda runtime and its
concurrency limits, API Gateway (routing, authorizer, HTTP server, OpenAPI document),
EventBridge Scheduler and the functions' other event sources."""
