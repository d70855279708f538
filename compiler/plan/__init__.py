"""`mlspec plan | apply | destroy | approve | reject | status`: the cloud-neutral engine.

Every piece of cloud knowledge lives in the target packages (``targets/<cloud>/``) and is
reached through the hooks of :class:`mlspec.targets.base.Target` (``rules``,
``cloud_profile``, ``mock_outputs``, ``resource_concerns``, ``approval_backend``,
``credentials``, ``baseline_rules``). Modules (each imports Pulumi / cloud SDKs lazily, only
when its command runs; none imports a target package other than ``mlspec.targets.base``):

- ``harness``     run a generated Pulumi program under Pulumi's mock runtime in a subprocess
                  (``_mockrun``) and return its resource graph as plain data;
- ``mocks``       the mock-output engine: merges the targets' ``MockOutputs`` tables;
- ``graph``       what rules see (``Graph``), the ``rule`` registry, helpers, ``CloudProfile``;
- ``security``    the rule engine, findings, waivers, artifact loading, docs/security.md;
- ``rules_common`` the cross-cloud rules MLS-G-*, fed by each target's ``CloudProfile``;
- ``plan``        compile + mock-run + group by concern + findings; table / JSON rendering;
- ``deploy``      apply / destroy through the Automation API, with preflight;
- ``approve``     approve / reject / status through the target's backend; ``decision`` holds
                  the shared vocabulary (``Where``, ``APPROVED`` ...);
- ``exits``       exit codes and error reporting shared by the commands;
- ``commands``    argparse wiring (``add_parsers``) used by ``mlspec.compiler.cli``.
"""
