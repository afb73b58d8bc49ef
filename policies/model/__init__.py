"""The read model of the platform: ``cdktf.out`` read once, and everything the checkers ask of it.

- :mod:`policies.model.output`: the raw reader (stacks, resources, references across stacks, the
  manifest's dependency order) and the policy-document helpers.
- :mod:`policies.model.topology`: what the stacks mean (which region a stack or provider is in, the
  releases installed into a cluster, what registers a target group, the data stacks by region).
- :mod:`policies.model.platform`: the typed picture every analysis tool reads (environments ->
  regions, primary first -> load balancers, clusters with their node groups per AZ and capacity type,
  the ingress gateway's replicas and zone spread, the GitOps engines; DNS failover trees, health
  checks and the Cloudflare pools; data stores and their configured protections).

Nothing here imports the rules or the tools; the rules (:mod:`policies.rules`) and the tools
(``tooling/``) import this package.
"""
