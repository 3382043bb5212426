"""Fail the install if more than one OpenCV distribution ended up in the environment."""

import sys
from importlib.metadata import distributions

names = sorted({d.metadata["Name"].lower() for d in distributions() if d.metadata["Name"].lower().startswith("opencv")})
if names != ["opencv-python-headless"]:
    sys.exit(f"expected exactly one OpenCV distribution (opencv-python-headless), found: {names}")
print("one cv2:", names[0])
