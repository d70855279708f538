"""`mlspec plan | apply | destroy | approve | reject | status` and the security baseline as code.

Modules (each imports Pulumi / cloud SDKs lazily, only when its command runs):

- ``harness``     run a generated Pulumi program under Pulumi's mock runtime in a subprocess
                  (``_mockrun``) and return its resource graph as plain data;
- ``fabricate``   plausible computed outputs per provider for those mocks (extend its tables);
- ``security``    the rule engine, findings, waivers, artifact loading, docs/security.md;
- ``rules_common`` / ``rules_aws`` / ``rules_gcp`` / ``rules_azure``  one predicate per baseline
                  rule id of ``mlspec.compiler.baseline``;
- ``pipelines``   readers for native pipeline artifacts (SageMaker definitions and deploy state
                  machines, KFP specs and job payloads, Azure ML job YAML);
- ``plan``        compile + mock-run + group by concern + findings; table / JSON rendering;
- ``deploy``      apply / destroy through the Automation API, with preflight;
- ``approve``     approve / reject / status per cloud; ``approvals`` holds the mechanism names;
- ``commands``    argparse wiring (``add_parsers``) used by ``mlspec.compiler.cli``.
"""
