"""Chinese names for the demo's staff and customers, drawn from a seeded random generator."""

from __future__ import annotations

import random

# The most common surnames, the first ones weighted more.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_SURNAME_WEIGHTS = tuple(max(1, 40 - i) for i in range(len(SURNAMES)))
_SURNAME_CUM = tuple(sum(_SURNAME_WEIGHTS[: i + 1]) for i in range(len(SURNAMES)))

FEMALE = "静丽敏燕艳娟霞芳婷雪慧颖琳欣怡佳悦萱思雨晴梦瑶琪倩璐露洁玲妍文晓涵诗可馨嘉月欢蕾薇彤"
MALE = "伟强磊军洋勇杰涛明超鹏浩宇轩辰博俊凯峰鑫亮健斌帅毅刚泽航晨阳天睿然志文昊豪翔宁"


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]


def chinese_name(rng: random.Random, gender: str) -> str:
    """A plausible full name: a surname and one or two given-name characters."""
    chars = FEMALE if gender == "f" else MALE
    given = rng.choice(chars) if rng.random() < 0.35 else rng.choice(chars) + rng.choice(chars)
    return surname(rng) + given
