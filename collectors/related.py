"""Which Related-News links to follow: the relevance gate on anchor text, and the default one.

The collectors take the gate as a plain callable (anchor text → score in [0, 1]) so the
worker can pass the classifier's China-AI relevance score; `keyword_relevance` is the gate
used when no model is given: China/Chinese-AI entities, or AI together with chips.
"""

from __future__ import annotations

import re
from collections.abc import Callable

RelevanceGate = Callable[[str], float]
GATE_THRESHOLD = 0.5

_CHINA = re.compile(
    r"\b(china|chinese|beijing|shanghai|shenzhen|hangzhou|hong kong|prc|xi jinping|"
    r"deepseek|qwen|alibaba|baidu|ernie|tencent|hunyuan|huawei|ascend|kirin|moonshot|kimi|"
    r"zhipu|glm|minimax|bytedance|doubao|tiktok|smic|cambricon|hygon|xiaomi|meituan|01\.ai|"
    r"iflytek|sensetime|megvii|unitree|biren|moore threads|stepfun|baichuan|manus)\b"
    r"|中国|中國|国产|國產|华为|華為|阿里|百度|腾讯|騰訊|字节|字節|深度求索|通义|通義|智谱|智譜|月之暗面"
    r"|昇腾|昇騰|寒武纪|中芯",
    re.I)
_AI = re.compile(r"\b(ai|a\.i\.|artificial intelligence|llms?|large language models?|"
                 r"chatbots?|agi|machine learning|neural|open[- ]weights?|open[- ]source model)\b"
                 r"|人工智能|大模型|智能",
                 re.I)
_CHIPS = re.compile(r"\b(chips?|semiconductors?|gpus?|nvidia|h20|h100|b200|tsmc|lithography|"
                    r"export controls?|hbm)\b|芯片|晶片|半导体|半導體|光刻", re.I)


def keyword_relevance(text: str) -> float:
    """1.0 for China-AI anchor text, 0.6 for AI-chips text, else 0.0."""
    china, ai, chips = bool(_CHINA.search(text)), bool(_AI.search(text)), bool(
        _CHIPS.search(text))
    if china and (ai or chips):
        return 1.0
    if china or (ai and chips):
        return 0.6
    return 0.0
