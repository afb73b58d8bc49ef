"""Analysis of the output through the read model: the failure drill, the SPOF report, the diagram, the DNS check."""
