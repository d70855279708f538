"""Fixed Azure Logic Apps workflow definitions that emulate what Azure ML lacks.

Input: nothing (the definitions are constants; every value they act on -- endpoint id, slots,
step size, identity -- arrives as a workflow *parameter* set by the Pulumi program).
Output: JSON-compatible dicts placed in the stack data file.

- ``ROLLOUT``: recurrence-triggered canary/linear/blue-green/shadow stepper. Each run waits one
  interval (so the first step never follows creation immediately), reads the
  online endpoint (ARM GET with the workflow's user-assigned identity), stops when the new slot
  already has 100% or the rollback workflow has tagged the endpoint, else raises the new slot's
  traffic by ``stepPercent`` (capped at 100), clears mirror traffic and PUTs the endpoint back.
- ``ROLLBACK``: HTTP-triggered (an Azure Monitor action group's Logic App receiver). Puts 100% on
  the previous slot, clears mirror traffic, tags ``mlspec-rolled-back=<new slot>``.
- ``BREACH``: HTTP-triggered by an Event Grid subscription on model-monitor threshold breaches.
  Answers the Event Grid validation handshake, submits each retraining pipeline (registered
  pipeline component) as a new job and posts the event to the channels' webhook URLs.

Docs: https://learn.microsoft.com/en-us/azure/logic-apps/logic-apps-workflow-definition-language
https://learn.microsoft.com/en-us/azure/logic-apps/authenticate-with-managed-identity
"""
from __future__ import annotations

#: ARM API version the workflows call for Azure ML resources.
API_VERSION = "2024-10-01"

_SCHEMA = "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
_AUTH = {"type": "ManagedServiceIdentity", "identity": "@parameters('identityId')",
         "audience": "https://management.azure.com/"}
_EP_URI = "@{concat('https://management.azure.com', parameters('endpointId'), '?api-version=', parameters('apiVersion'))}"


def _params(**types: str) -> dict:
    return {k: {"type": t} for k, t in {**types, "identityId": "String", "apiVersion": "String"}.items()}


def _get_endpoint(run_after: dict | None = None) -> dict:
    return {"type": "Http", "runAfter": run_after or {},
            "inputs": {"method": "GET", "uri": _EP_URI, "authentication": _AUTH}}


def _put_endpoint(body: str, run_after: dict) -> dict:
    return {"type": "Http", "runAfter": run_after,
            "inputs": {"method": "PUT", "uri": _EP_URI, "authentication": _AUTH, "body": body}}


_TRAFFIC_JSON = ("json(concat('{\"', parameters('oldSlot'), '\":', string(sub(100, {n})), ',\"', "
                 "parameters('newSlot'), '\":', string({n}), '}'))")

ROLLOUT: dict = {
    "$schema": _SCHEMA, "contentVersion": "1.0.0.0",
    "parameters": _params(endpointId="String", newSlot="String", oldSlot="String", stepPercent="Int",
                          intervalSeconds="Int"),
    "triggers": {},  # the program adds the recurrence trigger with the spec's interval
    "actions": {
        # a recurrence fires once at creation: wait one interval so every step follows a full interval
        "Wait_interval": {"type": "Wait", "runAfter": {},
                          "inputs": {"interval": {"count": "@parameters('intervalSeconds')", "unit": "Second"}}},
        "Get_endpoint": _get_endpoint({"Wait_interval": ["Succeeded"]}),
        "Current": {"type": "Compose", "runAfter": {"Get_endpoint": ["Succeeded"]},
                    "inputs": "@coalesce(body('Get_endpoint')?['properties']?['traffic']?[parameters('newSlot')], 0)"},
        "Step_or_stop": {
            "type": "If", "runAfter": {"Current": ["Succeeded"]},
            "expression": {"or": [
                {"greaterOrEquals": ["@outputs('Current')", 100]},
                {"equals": ["@coalesce(body('Get_endpoint')?['tags']?['mlspec-rolled-back'], '')",
                            "@parameters('newSlot')"]}]},
            "actions": {},
            "else": {"actions": {
                "Next": {"type": "Compose", "runAfter": {},
                         "inputs": "@min(100, add(outputs('Current'), parameters('stepPercent')))"},
                "Put_endpoint": _put_endpoint(
                    "@setProperty(body('Get_endpoint'), 'properties', setProperty(setProperty("
                    "body('Get_endpoint')['properties'], 'traffic', "
                    + _TRAFFIC_JSON.replace("{n}", "outputs('Next')") + "), 'mirrorTraffic', json('{}')))",
                    {"Next": ["Succeeded"]}),
            }},
        },
    },
    "outputs": {},
}

ROLLBACK: dict = {
    "$schema": _SCHEMA, "contentVersion": "1.0.0.0",
    "parameters": _params(endpointId="String", newSlot="String", oldSlot="String"),
    "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"schema": {}}}},
    "actions": {
        "Has_previous": {
            "type": "If", "runAfter": {},
            "expression": {"and": [{"not": {"equals": ["@parameters('oldSlot')", ""]}}]},
            "actions": {
                "Get_endpoint": _get_endpoint(),
                "Put_endpoint": _put_endpoint(
                    "@setProperty(setProperty(body('Get_endpoint'), 'tags', setProperty(coalesce("
                    "body('Get_endpoint')?['tags'], json('{}')), 'mlspec-rolled-back', parameters('newSlot'))), "
                    "'properties', setProperty(setProperty(body('Get_endpoint')['properties'], 'traffic', "
                    + _TRAFFIC_JSON.replace("{n}", "0") + "), 'mirrorTraffic', json('{}')))",
                    {"Get_endpoint": ["Succeeded"]}),
            },
            "else": {"actions": {}},
        },
        "Response": {"type": "Response", "kind": "Http", "runAfter": {"Has_previous": ["Succeeded"]},
                     "inputs": {"statusCode": 200}},
    },
    "outputs": {},
}

_JOB_URI = ("@{concat('https://management.azure.com', parameters('workspaceId'), '/jobs/', "
            "workflow()['run']['name'], '-', item()['name'], '?api-version=', parameters('apiVersion'))}")

BREACH: dict = {
    "$schema": _SCHEMA, "contentVersion": "1.0.0.0",
    "parameters": {**_params(workspaceId="String", pipelines="Array"), "notify": {"type": "SecureObject"}},
    "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"schema": {}}}},
    "actions": {
        "Is_validation": {
            "type": "If", "runAfter": {},
            "expression": {"and": [{"equals": [
                "@first(triggerBody())?['eventType']", "Microsoft.EventGrid.SubscriptionValidationEvent"]}]},
            "actions": {
                "Validation_response": {"type": "Response", "kind": "Http", "runAfter": {}, "inputs": {
                    "statusCode": 200,
                    "body": {"validationResponse": "@first(triggerBody())?['data']?['validationCode']"}}},
            },
            "else": {"actions": {
                "Retrain": {"type": "Foreach", "runAfter": {}, "foreach": "@parameters('pipelines')",
                            "actions": {"Submit_pipeline_job": {"type": "Http", "runAfter": {}, "inputs": {
                                "method": "PUT", "uri": _JOB_URI, "authentication": _AUTH,
                                "body": {"properties": {
                                    "jobType": "Pipeline",
                                    "componentId": "@{concat(parameters('workspaceId'), '/components/', "
                                                   "item()['component'], '/versions/', item()['version'])}",
                                    "experimentName": "@item()['experiment']",
                                    "inputs": "@item()['inputs']",
                                    "computeId": "@{concat(parameters('workspaceId'), '/computes/', "
                                                 "item()['compute'])}",
                                    "tags": "@item()['tags']"}}}}}},
                "Notify": {"type": "Foreach", "runAfter": {}, "foreach": "@parameters('notify')?['urls']",
                           "actions": {"Post_event": {"type": "Http", "runAfter": {}, "inputs": {
                               "method": "POST", "uri": "@item()",
                               "body": {"text": "mlspec: model monitor threshold breached",
                                        "event": "@first(triggerBody())"}}}}},
                "Accepted": {"type": "Response", "kind": "Http",
                             "runAfter": {"Retrain": ["Succeeded", "Failed"], "Notify": ["Succeeded", "Failed"]},
                             "inputs": {"statusCode": 200}},
            }},
        },
    },
    "outputs": {},
}

#: Actions the rollout workflows' custom role allows, on one endpoint only (MLS-AZ-040/041).
ROLLOUT_ROLE_ACTIONS = [
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read",
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write",
]
