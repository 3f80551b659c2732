"""Op-table rows for the loss family (issue 8); see op_db.py for OpSpec."""
import numpy as np

import nthgrad as ng
import nthgrad.functional as F
from op_db import OpSpec, t, ti, uniform, away_from_zero  # noqa: F401

ROWS = [
]
