"""security.allowed_egress on Vertex: Cloud NAT for the private subnet, a global network firewall
policy (FQDN allow list, Google API VIPs, deny all else), the PSC network attachment custom jobs use,
and the peering in VPC Service Controls mode -- under Pulumi's mock runtime; wildcard hosts refused
(E505); no egress resources without allowed_egress."""
from __future__ import annotations

import copy
import json

import pytest

import fixtures
from buildutil import lower, run_env, write
from mlspec.compiler.plan.harness import duplicate_urns, missing_required, none_strings, snake_case_leaks

HOSTS = ["pypi.org", "files.pythonhosted.org"]
EGRESS_TYPES = (":RouterNat", ":Router", ":NetworkFirewallPolicy", ":NetworkFirewallPolicyAssociation",
                ":NetworkFirewallPolicyRule", ":NetworkAttachment", ":VpcServiceControls")


def with_egress(ir: dict, hosts) -> dict:
    out = copy.deepcopy(ir)
    out["security"]["allowed_egress"] = list(hosts)
    return out


def errors(low):
    return [d for d in low.diagnostics if d.severity == "error"]


def stack(low, env):
    [art] = [a for a in low.artifacts if a.path == f"pulumi/stacks/{env}.json"]
    return art.content


def custom_jobs(low):
    """Every CustomJob / HPT payload in the lowered PipelineSpecs."""
    jobs = []
    for art in low.artifacts:
        if art.kind != "kfp-pipeline-spec":
            continue
        for ex in art.content["deploymentSpec"]["executors"].values():
            args = (ex.get("container") or {}).get("args") or []
            if "--payload" in args:
                payload = json.loads(args[args.index("--payload") + 1])
                jobs.append(payload.get("job_spec") or payload.get("trial_job_spec"))
    return jobs


@pytest.fixture(scope="module")
def egress_graph(tmp_path_factory):
    irs = [with_egress(fixtures.maximal_ir("dev"), HOSTS)]
    low = lower(irs)
    assert errors(low) == []
    return low, run_env(str(write(low, irs, tmp_path_factory.mktemp("vertex-egress"))), "dev")["resources"]


@pytest.fixture(scope="module")
def plain_graph(tmp_path_factory):
    irs = [fixtures.maximal_ir("dev")]
    low = lower(irs)
    return low, run_env(str(write(low, irs, tmp_path_factory.mktemp("vertex-plain"))), "dev")["resources"]


def of(res, suffix):
    return [r for r in res if r["type"].endswith(suffix)]


def one(res, name):
    [r] = [r for r in res if r["name"] == name]
    return r


def test_graph_is_clean(egress_graph):
    _low, res = egress_graph
    assert snake_case_leaks(res) == [] and missing_required(res) == []
    assert duplicate_urns(res) == [] and none_strings(res) == []


def test_nat_only_for_the_private_subnet_with_logging(egress_graph):
    _low, res = egress_graph
    [router] = of(res, "compute/router:Router")
    assert router["inputs"]["network"] and router["inputs"]["description"]
    [nat] = of(res, ":RouterNat")
    i = nat["inputs"]
    assert i["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    [sub] = i["subnetworks"]
    assert sub["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]
    assert "subnet" in nat["depends_on"] and "egress-router" in nat["depends_on"]
    assert i["logConfig"] == {"enable": True, "filter": "ALL"}


def test_firewall_policy_associated_with_the_vpc(egress_graph):
    _low, res = egress_graph
    [policy] = of(res, ":NetworkFirewallPolicy")
    assert policy["inputs"]["description"]
    [assoc] = of(res, ":NetworkFirewallPolicyAssociation")
    assert {"vpc", "egress-policy"} <= set(assoc["depends_on"])
    assert assoc["inputs"]["attachmentTarget"] and assoc["inputs"]["firewallPolicy"]


def test_rules_allow_exactly_the_hosts_then_deny_all(egress_graph):
    _low, res = egress_graph
    rules = {r["inputs"]["ruleName"]: r["inputs"] for r in of(res, ":NetworkFirewallPolicyRule")}
    assert set(rules) == {"google-apis", "hosts", "deny-all"}
    for r in rules.values():
        assert r["direction"] == "EGRESS" and r["description"] and r["enableLogging"] is True
    hosts = rules["hosts"]
    assert hosts["action"] == "allow" and hosts["match"]["destFqdns"] == HOSTS
    assert hosts["match"]["layer4Configs"] == [{"ipProtocol": "tcp", "ports": ["443"]}]
    assert "destIpRanges" not in hosts["match"]
    google = rules["google-apis"]
    assert google["action"] == "allow" and google["match"]["destIpRanges"] == ["199.36.153.8/30", "199.36.153.4/30"]
    deny = rules["deny-all"]
    assert deny["action"] == "deny" and deny["match"]["destIpRanges"] == ["0.0.0.0/0"]
    assert deny["match"]["layer4Configs"] == [{"ipProtocol": "all"}]
    # the deny rule is evaluated last (higher number = lower priority)
    assert deny["priority"] > max(hosts["priority"], google["priority"])


def test_no_ingress_from_anywhere(egress_graph):
    _low, res = egress_graph
    for r in of(res, ":NetworkFirewallPolicyRule") + of(res, "compute/firewall:Firewall"):
        i = r["inputs"]
        assert not (i.get("direction") == "INGRESS" and "0.0.0.0/0" in json.dumps(i.get("match") or i))


def test_jobs_use_the_attachment_and_the_peering_loses_its_internet_route(egress_graph):
    low, res = egress_graph
    [att] = of(res, ":NetworkAttachment")
    assert att["inputs"]["connectionPreference"] == "ACCEPT_AUTOMATIC" and "subnet" in att["depends_on"]
    [sc] = of(res, ":VpcServiceControls")
    assert sc["inputs"]["enabled"] is True and sc["inputs"]["service"] == "servicenetworking.googleapis.com"
    jobs = custom_jobs(low)
    assert jobs
    full = f"projects/{fixtures.maximal_ir('dev')['targets']['vertex']['project']}/regions/"
    for j in jobs:
        assert "network" not in j
        assert j["psc_interface_config"]["network_attachment"].startswith(full)
        assert j["psc_interface_config"]["network_attachment"].endswith("/" + att["inputs"]["name"])


def test_without_allowed_egress_nothing_changes(plain_graph):
    low, res = plain_graph
    assert stack(low, "dev")["egress"] is None
    for t in EGRESS_TYPES:
        assert of(res, t) == [], t
    for j in custom_jobs(low):
        assert "psc_interface_config" not in j and j["network"]


def test_wildcards_are_refused_by_name_and_exact_hosts_kept():
    low = lower([with_egress(fixtures.maximal_ir("dev"), ["pypi.org", "*.example.com"])])
    [d] = errors(low)
    assert d.code == "E505" and "*.example.com" in d.summary and "`example.com`" in d.hint
    assert stack(low, "dev")["egress"]["hosts"] == ["pypi.org"]


def test_existing_network_is_refused():
    ir = with_egress(fixtures.maximal_ir("dev"), HOSTS)
    ir["targets"]["vertex"]["network"] = "projects/p/global/networks/shared"
    [d] = errors(lower([ir]))
    assert d.code == "E505" and "existing" in d.summary


def test_more_than_a_hundred_hosts_split_into_rules():
    hosts = [f"h{i}.example.com" for i in range(150)]
    rules = stack(lower([with_egress(fixtures.maximal_ir("dev"), hosts)]), "dev")["egress"]["rules"]
    allow = [r for r in rules if "dest_fqdns" in r]
    assert [len(r["dest_fqdns"]) for r in allow] == [100, 50]
    assert len({r["priority"] for r in rules}) == len(rules)


def test_vertex_agent_gets_a_narrow_custom_role_not_network_admin(egress_graph):
    _low, res = egress_graph
    [role] = of(res, ":IAMCustomRole")
    assert all(p.startswith("compute.networkAttachments.") or p == "compute.regionOperations.get"
               for p in role["inputs"]["permissions"])
    grant = one(res, "role-vertex-agent-psc-interface")
    assert "role-psc-interface" in grant["depends_on"]
    assert grant["inputs"]["member"].endswith("@gcp-sa-aiplatform.iam.gserviceaccount.com")
    for r in of(res, "projects/iAMMember:IAMMember"):
        assert not r["inputs"]["role"].lower().endswith("admin")


def test_egress_job_payloads_parse_as_vertex_jobs(egress_graph):
    from launcher import submit

    low, _res = egress_graph
    seen = 0
    for art in low.artifacts:
        if art.kind != "kfp-pipeline-spec":
            continue
        for ex in art.content["deploymentSpec"]["executors"].values():
            args = (ex.get("container") or {}).get("args") or []
            if "--payload" not in args:
                continue
            kind, payload = args[args.index("--type") + 1], args[args.index("--payload") + 1]
            job = submit(kind, payload)  # the launcher's own parse path
            spec = job.job_spec if kind == "CustomJob" else job.trial_job_spec
            assert spec.psc_interface_config.network_attachment.endswith("-egress") and not spec.network
            seen += 1
    assert seen
