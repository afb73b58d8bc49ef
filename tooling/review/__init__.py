"""Review: the pre-merge gate (checkov and the deploy rules), SARIF, the plan review and the pull-request comment."""
