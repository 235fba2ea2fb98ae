"""Quantization and quantization bias: trained small models, their quantized variants in each runtime's
quantizer, and accuracy overall and per group against the fp32 twin from the same weights."""
