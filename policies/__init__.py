"""spofless zero-SPOF policy pack: custom checkov checks (loaded with --external-checks-dir policies)."""
