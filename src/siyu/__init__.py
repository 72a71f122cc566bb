"""siyu — a private-domain retail operations platform for chain brands (私域零售运营中台)."""

__version__ = "0.1.0"
