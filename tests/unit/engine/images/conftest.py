import sys
from pathlib import Path

# the layer-building helpers live beside the store tests
sys.path.insert(0, str(Path(__file__).parents[2] / "store"))
