"""The PyQt6 desktop editor (the only package that imports Qt)."""
