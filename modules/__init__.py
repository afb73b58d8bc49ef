"""spofless constructs and stacks.

Importing any ``modules.*`` first silences jsii's Node.js banner, before cdktf
starts the jsii runtime, and lets ``import cdktf`` resolve to the engine
``SPOFLESS_ENGINE`` selects (``modules/engine.py``; CDKTF unless it names another).
"""

from modules import engine as _engine
from modules import providers as _providers  # noqa: F401  (side effect: silence the banner)

_engine.install()
