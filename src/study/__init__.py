"""Edge runtime study: which runtime should I ship my model on, for my edge device?"""

__version__ = "0.1.0"
