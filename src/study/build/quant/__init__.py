"""Quantization and quantization bias: trained small models, their quantized variants in each runtime's
quantizer, and accuracy overall and per group against the fp32 twin from the same weights."""

# Names in the quantization tables, here (a module that imports nothing) so the tables need not import zoo.py:
SHIPPED = "shipped"  # the dataset column of a shipped model's variants
FILE_ITSELF = "shipped file"  # the runtime of a picture's reference row: the file run in its own runtime
