"""A dynamic resource (as the Vertex target uses for pipeline schedules) next to a provider resource."""
import pulumi
import pulumi_gcp as gcp
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class ScheduleProvider(ResourceProvider):
    def create(self, props):
        return CreateResult(id_=f"schedules/{props['displayName']}", outs=dict(props))


class PipelineSchedule(Resource, module="vertex", name="PipelineSchedule"):
    def __init__(self, name, props, opts=None):
        super().__init__(ScheduleProvider(), name, {**props, "resourceName": None}, opts)


sa = gcp.serviceaccount.Account("runner", account_id="runner")
sched = PipelineSchedule("nightly", {"displayName": "nightly", "cron": "0 3 * * *", "serviceAccount": sa.email,
                                     "spec": {"template_path": "gs://x/pipeline.json"}})
pulumi.export("schedule_id", sched.id)
