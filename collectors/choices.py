from django.db import models


class ServerKind(models.TextChoices):
    VLLM = "vllm", "vLLM"
    TGI = "tgi", "TGI"
    TRITON = "triton", "Triton"
    SGLANG = "sglang", "SGLang"
    TRTLLM = "trtllm", "TensorRT-LLM"
    OTHER = "other", "Other"


class UtilFrom(models.TextChoices):
    DEVICE = "device", "device utilization"
    GRAPHICS_ENGINE = "graphics_engine", "graphics-engine activity (MIG)"
