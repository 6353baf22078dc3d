from django.db import models


class ServerKind(models.TextChoices):
    VLLM = "vllm", "vLLM"
    TGI = "tgi", "TGI"
    TRITON = "triton", "Triton"
    SGLANG = "sglang", "SGLang"
    OTHER = "other", "Other"
