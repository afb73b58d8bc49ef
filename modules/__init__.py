"""spofless constructs and stacks.

Importing any ``modules.*`` first silences jsii's Node.js banner, before cdktf
starts the jsii runtime.
"""

from modules import providers as _providers  # noqa: F401  (side effect: silence the banner)
