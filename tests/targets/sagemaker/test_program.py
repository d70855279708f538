"""The generated Pulumi program under Pulumi's mock runtime (mlspec.compiler.plan.harness):
resources, wiring and every SECURITY.md AWS row, no snake_case leaks, no missing required
inputs, unique URNs."""
from __future__ import annotations

import json
from collections import Counter

import botocore.session
import pytest

from mlspec.compiler.plan.harness import duplicate_urns, missing_required, run_program, snake_case_leaks
from mlspec.targets.sagemaker import SageMaker

from . import fixtures as fx

PACKAGES = ("  mlspec:approved_package.fraud_scorer: \"arn:aws:sagemaker:us-east-1:123456789012:"
            "model-package/fraud-detection-prod-fraud-scorer/1\"\n"
            "  mlspec:approved_package.challenger: \"arn:aws:sagemaker:us-east-1:123456789012:"
            "model-package/fraud-detection-prod-challenger/1\"\n")
SECRETS = "  mlspec:fraud-pagerduty-key:\n    secure: AAABAmock\n  mlspec:fraud-slack:\n    secure: AAABAmock\n"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    irs = fx.environments()
    low = SageMaker().lower(irs, fx.CTX)
    assert not [d for d in low.diagnostics if "inference id" not in d.summary]  # the join_on W505
    out = fx.write_build(low, tmp_path_factory.mktemp("sm"), irs)
    cfg = out / "pulumi" / "Pulumi.prod.yaml"
    cfg.write_text(cfg.read_text() + SECRETS + PACKAGES)
    cfg = out / "pulumi" / "Pulumi.dev.yaml"
    cfg.write_text(cfg.read_text() + SECRETS)
    return out


@pytest.fixture(scope="module")
def prod(build):
    return run_program(build / "pulumi", "prod")


@pytest.fixture(scope="module")
def dev(build):
    return run_program(build / "pulumi", "dev")


def of(run, typ):
    return [r for r in run["resources"] if r["type"] == typ]


def one(run, typ, name):
    found = [r for r in run["resources"] if r["type"] == typ and r["name"] == name]
    assert len(found) == 1, (typ, name)
    return found[0]


def test_graph_is_clean(prod, dev):
    for run in (prod, dev):
        res = run["resources"]
        assert snake_case_leaks(res) == []
        assert missing_required(res) == []
        assert duplicate_urns(res) == []
        assert not [r["name"] for r in res if "${" in json.dumps(r["inputs"])]  # every token resolved


def test_resource_inventory(prod, dev):
    c = Counter(r["type"] for r in prod["resources"])
    assert c["aws:sagemaker/pipeline:Pipeline"] == 1
    assert c["aws:sagemaker/modelPackageGroup:ModelPackageGroup"] == 2
    assert c["aws:sagemaker/endpoint:Endpoint"] == 6
    assert c["aws:sagemaker/monitoringSchedule:MonitoringSchedule"] == 5
    assert c["aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"] == 2
    for kind in ("ModelQuality", "ModelBias", "ModelExplainability"):
        assert c[f"aws-native:sagemaker:{kind}JobDefinition"] == 1
    assert c["aws:sfn/stateMachine:StateMachine"] == 7  # 6 deploy paths + batch
    assert c["aws:scheduler/schedule:Schedule"] == 2
    assert c["aws:cloudwatch/metricAlarm:MetricAlarm"] == 6
    assert c["aws:sagemaker/modelCard:ModelCard"] == 2
    assert c["aws:cloudwatch/dashboard:Dashboard"] == 1
    # dev has no approved package configured: the deploy path creates endpoints on approval
    d = Counter(r["type"] for r in dev["resources"])
    assert d["aws:sagemaker/endpoint:Endpoint"] == 0 and d["aws:sfn/stateMachine:StateMachine"] == 7


def test_kms_key(prod):  # MLS-AWS-001/002
    key = one(prod, "aws:kms/key:Key", "key")["inputs"]
    assert key["enableKeyRotation"] is True and key["isEnabled"] is True
    assert key["bypassPolicyLockoutSafetyCheck"] is False
    pol = json.loads(key["policy"])
    for s in pol["Statement"]:
        assert s["Principal"] != "*" and s["Principal"].get("AWS") != "*"


def test_buckets(prod):  # MLS-AWS-010..015
    buckets = of(prod, "aws:s3/bucket:Bucket")
    assert len(buckets) == 5
    for b in buckets:
        name = b["name"]
        sse = one(prod, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                  f"{name}-sse")["inputs"]["rules"][0]
        assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
        assert sse["bucketKeyEnabled"] is True
        pab = one(prod, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab")["inputs"]
        assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                             "restrictPublicBuckets"))
        ver = one(prod, "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning")["inputs"]
        assert ver["versioningConfiguration"]["status"] == "Enabled"
        pol = json.loads(one(prod, "aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy")["inputs"]["policy"])
        st = pol["Statement"][0]
        assert st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for extra in pol["Statement"][1:]:  # only the S3 logging service may write access logs
            assert extra["Principal"] == {"Service": "logging.s3.amazonaws.com"} and name == "bucket-logs"
        if name != "bucket-logs":
            log = one(prod, "aws:s3/bucketLogging:BucketLogging", f"{name}-logging")["inputs"]
            assert log["targetBucket"] != log["bucket"]
    assert {r["name"] for r in of(prod, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")} == {
        "bucket-capture-lifecycle", "bucket-monitoring-lifecycle"}


def test_private_network(prod):  # MLS-AWS-040/041
    sg = of(prod, "aws:ec2/securityGroup:SecurityGroup")[0]["inputs"]
    assert sg["description"]
    for rule in sg["ingress"] + sg["egress"]:
        assert rule["description"] and "0.0.0.0/0" not in rule.get("cidrBlocks", [])
    for sn in of(prod, "aws:ec2/subnet:Subnet"):
        assert sn["inputs"]["mapPublicIpOnLaunch"] is False
    assert not [r for r in prod["resources"] if r["type"] in ("aws:ec2/internetGateway:InternetGateway",
                                                              "aws:ec2/natGateway:NatGateway")]
    services = {r["inputs"]["serviceName"].rsplit(".", 2)[-2:][0] + "." + r["inputs"]["serviceName"].rsplit(".", 1)[-1]
                for r in of(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")}
    names = {r["inputs"]["serviceName"].split("us-east-1.")[1] for r in of(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "sts", "kms", "s3"} <= names
    del services


def test_iam_least_privilege(prod):  # MLS-AWS-050..055
    roles = {r["name"]: r for r in of(prod, "aws:iam/role:Role")}
    assert {"role-pipeline", "role-jobs", "role-endpoint", "role-monitoring", "role-deploy", "role-events",
            "role-scheduler"} <= set(roles)
    # customer-managed policies attached to the roles, no inline policies (IAM's 10,240-character
    # inline budget per role would overflow on larger specs)
    assert not [p for p in of(prod, "aws:iam/rolePolicy:RolePolicy") if p["name"].startswith("role-")]
    attached = {a["name"]: a["inputs"] for a in of(prod, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    managed = {p["name"]: p["inputs"] for p in of(prod, "aws:iam/policy:Policy")}
    for name, r in roles.items():
        trust = json.loads(r["inputs"]["assumeRolePolicy"])["Statement"]
        assert len(trust) == 1 and isinstance(trust[0]["Principal"]["Service"], str)
        if not name.startswith("role-"):
            continue  # AWS Chatbot's role: its own small inline policy
        mine = [k for k, a in attached.items() if a["role"] == r["inputs"]["name"]]
        assert mine and all(attached[k]["policyArn"].endswith(":policy/" + managed[k]["name"]) for k in mine)
    for p in of(prod, "aws:iam/policy:Policy") + of(prod, "aws:iam/rolePolicy:RolePolicy"):
        doc = json.loads(p["inputs"]["policy"])
        for s in doc["Statement"]:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (p["name"], s["Sid"])
            if "iam:PassRole" in actions:
                assert s["Resource"] != "*"
                assert s["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"
            if s["Resource"] == "*" and s["Effect"] == "Allow":
                assert all(a.split(":")[1].startswith(("Describe", "List", "Get", "PutMetricData")) or
                           a.startswith(("logs:", "xray:")) for a in actions), (p["name"], s["Sid"])
            if "kms:CreateGrant" in actions:
                assert s["Condition"]["Bool"]["kms:GrantIsForAWSResource"] == "true"
    def statements(key):
        return [st for n, p in managed.items() if n.startswith(f"role-{key}-policy-")
                for st in json.loads(p["policy"])["Statement"]]
    pipe = {"Statement": statements("pipeline")}
    denies = {s["Sid"] for s in pipe["Statement"] if s["Effect"] == "Deny"}
    assert {"DenyJobsOutsideVpc", "DenyJobsWithoutVolumeKey", "DenyJobsWithoutOutputKey",
            "DenyJobsWithoutIsolation", "DenyJobsWithoutTransitEncryption", "DenyOtherInstanceTypes",
            "DenySelfApproval"} <= denies
    # MLS-G-07: no role the pipeline or its jobs run as may change an approval
    for key in ("pipeline", "jobs"):
        allowed = {a for s in statements(key) if s["Effect"] == "Allow" for a in s["Action"]}
        assert "sagemaker:UpdateModelPackage" not in allowed


def test_pipeline_resource(prod):  # MLS-AWS-068
    p = of(prod, "aws:sagemaker/pipeline:Pipeline")[0]
    assert p["inputs"]["roleArn"].endswith(":role/fraud-detection-prod-pipeline")
    d = json.loads(p["inputs"]["pipelineDefinition"])
    params = {x["Name"]: x["DefaultValue"] for x in d["Parameters"]}
    assert params["KmsKeyId"].startswith("arn:aws:kms:") and params["Subnet0"].startswith("subnet-")
    assert params["ArtifactsBucket"] == "fraud-detection-prod-artifacts-123456789012-us-east-1"
    assert {"role-pipeline-policy-1", "group-fraud_scorer"} <= set(p["depends_on"])


def test_endpoints_rollouts_capture(prod):  # MLS-AWS-063/064/065, rollouts
    cfgs = {r["name"]: r["inputs"] for r in of(prod, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")}
    for name, c in cfgs.items():
        assert c["kmsKeyArn"].startswith("arn:aws:kms:")
        for v in c["productionVariants"]:
            assert v["initialInstanceCount"] >= 2
    cap = cfgs["endpoint-config-scoring"]["dataCaptureConfig"]
    assert cap["enableCapture"] is True and cap["initialSamplingPercentage"] == 20 and cap["kmsKeyId"]
    assert cfgs["endpoint-config-shadowed"]["shadowProductionVariants"][0]["initialVariantWeight"] == 0.2
    ab = cfgs["endpoint-config-ab"]["productionVariants"]
    assert [(v["variantName"], v["initialVariantWeight"]) for v in ab] == [("a", 0.5), ("b", 0.5)]
    eps = {r["name"]: r for r in of(prod, "aws:sagemaker/endpoint:Endpoint")}
    route = {n: e["inputs"]["deploymentConfig"]["blueGreenUpdatePolicy"]["trafficRoutingConfiguration"]
             for n, e in eps.items()}
    assert route["endpoint-scoring"]["type"] == "CANARY" and route["endpoint-scoring"]["canarySize"]["value"] == 5
    assert route["endpoint-linear"]["type"] == "LINEAR" and route["endpoint-linear"]["linearStepSize"]["value"] == 10
    assert route["endpoint-bluegreen"]["type"] == "ALL_AT_ONCE" and route["endpoint-once"]["type"] == "ALL_AT_ONCE"
    rb = eps["endpoint-scoring"]["inputs"]["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]
    assert [a["alarmName"] for a in rb] == ["fraud-detection-prod-latency-alarm", "fraud-detection-prod-errors-alarm"]
    assert {"alarm-latency", "alarm-errors"} <= set(eps["endpoint-scoring"]["depends_on"])
    assert eps["endpoint-scoring"]["ignore_changes"] == ["endpointConfigName"]
    for m in of(prod, "aws:sagemaker/model:Model"):  # MLS-AWS-062
        assert m["inputs"]["enableNetworkIsolation"] is True and m["inputs"]["vpcConfig"]["subnets"]
    pol = {r["name"]: r["inputs"] for r in of(prod, "aws:appautoscaling/policy:Policy")}
    assert pol["scaling-scoring-primary-rps"]["targetTrackingScalingPolicyConfiguration"]["targetValue"] == 6000


def test_monitors(prod):  # MLS-AWS-066/067
    sched = {r["inputs"]["name"]: r["inputs"]["monitoringScheduleConfig"]["monitoringType"]
             for r in of(prod, "aws:sagemaker/monitoringSchedule:MonitoringSchedule")}
    assert sorted(sched.values()) == ["DataQuality", "DataQuality", "ModelBias", "ModelExplainability",
                                      "ModelQuality"]
    for dq in of(prod, "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"):
        net = dq["inputs"]["networkConfig"]
        assert net["enableNetworkIsolation"] is True and net["enableInterContainerTrafficEncryption"] is True
        assert net["vpcConfig"]["subnets"] and dq["inputs"]["dataQualityJobOutputConfig"]["kmsKeyId"]
        assert dq["inputs"]["jobResources"]["clusterConfig"]["volumeKmsKeyId"]
    pre = [d for d in of(prod, "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition")
           if d["inputs"]["dataQualityAppSpecification"].get("recordPreprocessorSourceUri")]
    assert len(pre) == 1  # prediction drift analyses the endpoint output
    for kind in ("ModelQuality", "ModelBias", "ModelExplainability"):
        j = of(prod, f"aws-native:sagemaker:{kind}JobDefinition")[0]["inputs"]
        # SHAP creates and queries a shadow endpoint: only that job needs the network
        assert j["networkConfig"]["enableNetworkIsolation"] is (kind != "ModelExplainability")
        assert j["networkConfig"]["vpcConfig"]["subnets"] and j["jobResources"]["clusterConfig"]["volumeKmsKeyId"]
    # issue 12 item 9: the explainability config's predictor names the model the endpoint serves
    xj = of(prod, "aws-native:sagemaker:ModelExplainabilityJobDefinition")[0]
    key = xj["inputs"]["modelExplainabilityAppSpecification"]["configUri"].split("/", 3)[3]
    obj = next(r for r in of(prod, "aws:s3/bucketObjectv2:BucketObjectv2") if r["inputs"]["key"] == key)
    cfg = json.loads(obj["inputs"]["content"])
    served = {r["name"] for r in of(prod, "aws:sagemaker/model:Model")}  # the mocks name it so
    assert cfg["predictor"]["model_name"] in served and cfg["methods"]["shap"]
    assert obj["name"] in xj["depends_on"]
    from botocore.validate import ParamValidator

    xop = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateModelExplainabilityJobDefinition").input_shape
    xi = xj["inputs"]

    def wire(v):  # the provider's camelCase inputs as the API's PascalCase request
        if isinstance(v, dict):
            return {{"VolumeSizeInGb": "VolumeSizeInGB"}.get(k[0].upper() + k[1:], k[0].upper() + k[1:]): wire(x)
                    for k, x in v.items()}
        return [wire(x) for x in v] if isinstance(v, list) else v

    request = {k: wire(xi[k[0].lower() + k[1:]]) for k in (
        "JobDefinitionName", "ModelExplainabilityAppSpecification", "ModelExplainabilityJobInput",
        "ModelExplainabilityJobOutputConfig", "JobResources", "NetworkConfig", "RoleArn", "StoppingCondition")}
    report = ParamValidator().validate(request, xop)
    assert not report.has_errors(), report.generate_report()
    assert request["NetworkConfig"]["EnableNetworkIsolation"] is False
    # model quality reads the model's task and prediction: a probability with its threshold, not a label
    mq = of(prod, "aws-native:sagemaker:ModelQualityJobDefinition")[0]["inputs"]
    assert mq["modelQualityAppSpecification"]["problemType"] == "BinaryClassification"
    ep = mq["modelQualityJobInput"]["endpointInput"]
    assert ep["probabilityAttribute"] == "0" and ep["probabilityThresholdAttribute"] == 0.5
    assert "inferenceAttribute" not in ep
    # the service's own request model judges the endpoint input and app specification
    from botocore.validate import ParamValidator

    op = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateModelQualityJobDefinition").input_shape
    pascal = lambda d: {k[0].upper() + k[1:]: v for k, v in d.items()}  # noqa: E731
    job_input = {"EndpointInput": pascal(ep),
                 "GroundTruthS3Input": pascal(mq["modelQualityJobInput"]["groundTruthS3Input"])}
    for member, value in (("ModelQualityJobInput", job_input),
                          ("ModelQualityAppSpecification", pascal(mq["modelQualityAppSpecification"]))):
        report = ParamValidator().validate(value, op.members[member])
        assert not report.has_errors(), report.generate_report()
    # drift breach -> pipeline start, and notification
    targets = {r["name"]: r["inputs"] for r in of(prod, "aws:cloudwatch/eventTarget:EventTarget")}
    retrain = targets["breach-data_drift-retrain-training"]
    # no pipeline parameters: nothing a trigger passes can change the approval status
    assert retrain["arn"].startswith("arn:aws:sagemaker") and "sagemakerPipelineTarget" not in retrain
    rule = one(prod, "aws:cloudwatch/eventRule:EventRule", "breach-data_drift")["inputs"]
    assert json.loads(rule["eventPattern"])["detail"]["ExitMessage"] == [{"prefix": "CompletedWithViolations"}]


def test_approval_deploy_path(prod, dev):  # MLS-AWS-069, MLS-G-07
    for run in (prod, dev):
        rules = [r for r in of(run, "aws:cloudwatch/eventRule:EventRule") if r["name"].startswith("rule-deploy-")]
        assert len(rules) == 7  # 6 endpoints, the A/B one for two models
        pat = json.loads(rules[0]["inputs"]["eventPattern"])
        assert pat["detail-type"] == ["SageMaker Model Package State Change"]
        assert pat["detail"]["ModelApprovalStatus"] == ["Approved"]
    sm = {r["name"]: r["inputs"] for r in of(prod, "aws:sfn/stateMachine:StateMachine")}
    for name, s in sm.items():
        assert s["encryptionConfiguration"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert s["loggingConfiguration"]["logDestination"].endswith(":*")
        d = json.loads(s["definition"])
        assert "${" not in s["definition"]
    d = json.loads(sm["statemachine-deploy-scoring"]["definition"])
    upd = d["States"]["UpdateEndpoint"]["Parameters"]
    assert upd["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert d["States"]["CreateModel"]["Parameters"]["EnableNetworkIsolation"] is True
    shadow = json.loads(sm["statemachine-deploy-shadowed"]["definition"])["States"]
    assert shadow["ShadowPeriod"]["Seconds"] == 604800 and "Promote" in shadow
    for lg in of(prod, "aws:cloudwatch/logGroup:LogGroup"):  # MLS-AWS-030/031
        assert lg["inputs"]["kmsKeyId"] and lg["inputs"]["retentionInDays"] >= 365


def test_channels_alarms_secrets(prod):  # MLS-AWS-032, MLS-G-04
    for t in of(prod, "aws:sns/topic:Topic"):
        assert t["inputs"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    subs = {r["name"]: r["inputs"] for r in of(prod, "aws:sns/topicSubscription:TopicSubscription")}
    assert subs["topic-oncall-sub-0"] == {**subs["topic-oncall-sub-0"], "protocol": "email",
                                          "endpoint": "oncall@example.com"}
    assert subs["topic-pager-sub-0"]["protocol"] == "https" and subs["topic-pager-sub-0"]["endpoint"] == "[secret]"
    assert subs["topic-hook-sub-0"]["endpoint"] == "[secret]"
    assert of(prod, "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    alarms = {r["name"]: r["inputs"] for r in of(prod, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["alarm-latency"]["extendedStatistic"] == "p99" and alarms["alarm-latency"]["threshold"] == 200000
    assert alarms["alarm-errors"]["metricQueries"][0]["expression"].startswith("100 * errors")
    assert alarms["alarm-cpu"]["metricName"] == "CPUUtilization"
    assert all(len(a["alarmActions"]) == 4 for a in alarms.values())


def test_failed_runs_notify_the_on_failure_channels(prod):
    """issue 10 `on_failure`: an EventBridge rule on the pipeline's execution status changes to
    Failed publishes to the channel's SNS topic; the topic lets EventBridge publish only from
    this stack's rules that notify it (and CloudWatch alarms of the account)."""
    rule = one(prod, "aws:cloudwatch/eventRule:EventRule", "failed-training")["inputs"]
    pattern = json.loads(rule["eventPattern"])
    pipe = one(prod, "aws:sagemaker/pipeline:Pipeline", "pipeline-training")
    assert pattern == {"source": ["aws.sagemaker"],
                       "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                       "detail": {"pipelineArn": [pattern["detail"]["pipelineArn"][0]],
                                  "currentPipelineExecutionStatus": ["Failed"]}}
    assert pattern["detail"]["pipelineArn"][0].endswith(":pipeline/fraud-detection-prod-training")
    assert "pipeline-training" in one(prod, "aws:cloudwatch/eventRule:EventRule", "failed-training")["depends_on"]
    del pipe
    target = one(prod, "aws:cloudwatch/eventTarget:EventTarget", "failed-training-notify-oncall")["inputs"]
    topic = one(prod, "aws:sns/topic:Topic", "topic-oncall")
    assert target["arn"].endswith(":fraud-detection-prod-oncall") and "roleArn" not in target
    pol = json.loads(one(prod, "aws:sns/topicPolicy:TopicPolicy", "topic-oncall-policy")["inputs"]["policy"])
    rules = next(s for s in pol["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"})
    allowed = rules["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert f"arn:aws:events:us-east-1:123456789012:rule/{rule['name']}" in allowed
    assert all(":rule/fraud-detection-prod-" in a for a in allowed)  # no other rule may publish
    assert topic["inputs"]["kmsMasterKeyId"]
    # a topic no rule notifies lets no EventBridge rule publish
    for p in of(prod, "aws:sns/topicPolicy:TopicPolicy"):
        for st in json.loads(p["inputs"]["policy"])["Statement"]:
            if st["Principal"] == {"Service": "events.amazonaws.com"}:
                assert st["Condition"]["ArnEquals"]["aws:SourceArn"]


def test_schedules_cards_dashboard(prod):
    sch = {r["name"]: r["inputs"] for r in of(prod, "aws:scheduler/schedule:Schedule")}
    assert sch["schedule-training"]["scheduleExpression"] == "cron(0 3 ? * MON *)"
    assert all(s["kmsKeyArn"] for s in sch.values())
    for c in of(prod, "aws:sagemaker/modelCard:ModelCard"):
        assert c["inputs"]["securityConfig"]["kmsKeyId"]
        content = json.loads(c["inputs"]["content"])
        assert content["intended_uses"]["intended_uses"]
    body = json.loads(of(prod, "aws:cloudwatch/dashboard:Dashboard")[0]["inputs"]["dashboardBody"])
    assert any(w["type"] == "text" and "losses" in w["properties"]["markdown"] for w in body["widgets"])


def test_private_registry(prod):  # MLS-AWS-020..023
    repo = of(prod, "aws:ecr/repository:Repository")[0]["inputs"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert not of(prod, "aws:ecr/repositoryPolicy:RepositoryPolicy")
    logs = {r["inputs"]["name"] for r in of(prod, "aws:cloudwatch/logGroup:LogGroup")}
    assert "/aws/sagemaker/Endpoints/fraud-detection-prod-scoring" in logs


def test_existing_network_and_key(tmp_path):
    """vpc_id/subnet_ids/security_group_ids and an existing key: nothing network-side is created."""
    ir = fx.maximal_ir("prod")
    ir["targets"]["sagemaker"] = {"region": "eu-west-1", "vpc_id": "vpc-0123456789abcdef0",
                                  "subnet_ids": ["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"],
                                  "security_group_ids": ["sg-0aaa"]}
    ir["security"]["kms_key"] = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    ir["monitors"], ir["channels"], ir["alerts"] = [], [], []
    for e in ir["endpoints"]:
        e["rollout"]["rollback_on"] = []
    low = SageMaker().lower([ir], fx.CTX)
    assert not [d for d in low.diagnostics if "inference id" not in d.summary]  # the join_on W505
    out = fx.write_build(low, tmp_path, [ir])
    cfg = out / "pulumi" / "Pulumi.prod.yaml"
    cfg.write_text(cfg.read_text() + PACKAGES)
    run = run_program(out / "pulumi", "prod")
    types = Counter(r["type"] for r in run["resources"])
    assert types["aws:ec2/vpc:Vpc"] == 0 and types["aws:ec2/vpcEndpoint:VpcEndpoint"] == 0
    assert types["aws:kms/key:Key"] == 0
    assert snake_case_leaks(run["resources"]) == [] and missing_required(run["resources"]) == []
    p = of(run, "aws:sagemaker/pipeline:Pipeline")[0]
    params = {x["Name"]: x["DefaultValue"] for x in json.loads(p["inputs"]["pipelineDefinition"])["Parameters"]}
    assert [params[f"Subnet{i}"] for i in range(3)] == ["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"]
    assert params["SecurityGroup0"] == "sg-0aaa" and params["KmsKeyId"] == ir["security"]["kms_key"]
    for m in of(run, "aws:sagemaker/model:Model"):
        assert m["inputs"]["vpcConfig"]["subnets"] == ["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"]
    d = json.loads(p["inputs"]["pipelineDefinition"])
    assert "eu-west-1" in json.dumps(d) and "us-east-1" not in json.dumps(d)



def _wire(v):
    """The provider's camelCase inputs as the API's PascalCase request."""
    if isinstance(v, dict):
        return {{"VolumeSizeInGb": "VolumeSizeInGB"}.get(k[0].upper() + k[1:], k[0].upper() + k[1:]): _wire(x)
                for k, x in v.items()}
    return [_wire(x) for x in v] if isinstance(v, list) else v


def test_bias_monitor_reads_the_config_its_training_pipeline_writes(prod):
    """Issue 12 item 10 (bias_drift), at botocore's boundary: the ModelBias job definition is a
    valid CreateModelBiasJobDefinition request (patterns, enums, lengths), its ConfigUri is the
    object the pipeline's baseline_features step writes (same bucket, same key), and its
    endpoint input says which column of the endpoint's output is the probability."""
    from mlspec.targets.sagemaker import requests

    j = of(prod, "aws-native:sagemaker:ModelBiasJobDefinition")[0]["inputs"]
    request = {k: _wire(j[k[0].lower() + k[1:]]) for k in (
        "JobDefinitionName", "ModelBiasAppSpecification", "ModelBiasJobInput", "ModelBiasJobOutputConfig",
        "JobResources", "NetworkConfig", "RoleArn", "StoppingCondition")}
    assert requests.check_request("CreateModelBiasJobDefinition", request) == []
    ep = request["ModelBiasJobInput"]["EndpointInput"]
    assert (ep["ProbabilityAttribute"], ep["ProbabilityThresholdAttribute"]) == ("0", 0.5)
    assert "InferenceAttribute" not in ep
    config_uri = request["ModelBiasAppSpecification"]["ConfigUri"]
    pipe = json.loads(of(prod, "aws:sagemaker/pipeline:Pipeline")[0]["inputs"]["pipelineDefinition"])
    resolved = requests.resolve_defaults(pipe)
    feats = next(s for s in requests.steps(resolved) if s["Name"] == "BiasDriftFeatures")["Arguments"]
    prefix = feats["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    written = "/".join(prefix["Std:Join"]["Values"]) + "/analysis_config.json"
    assert config_uri == written and config_uri.startswith("s3://") and "/baselines/bias-drift/" in config_uri
    # nothing else uploads an object there: the pipeline's copy is the one the monitor reads
    assert not [r for r in of(prod, "aws:s3/bucketObjectv2:BucketObjectv2")
                if r["inputs"]["key"].endswith("bias-drift/analysis_config.json")]
