"""The demo brand's product range: nine categories of sportswear, 64 styles, colours × sizes.
Tag prices are integer fen."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StyleSpec:
    category: str
    name: str
    price_fen: int
    sizes: str  # a key of SIZES
    role: str = "regular"  # traffic | regular | member | fission


CATEGORIES = (
    ("RUN", "跑鞋"),
    ("BASK", "篮球鞋"),
    ("TRAIN", "综训鞋"),
    ("TEE", "T恤"),
    ("HOOD", "卫衣"),
    ("JKT", "夹克外套"),
    ("PANT", "运动裤"),
    ("SOCK", "运动袜"),
    ("BAG", "包袋"),
)

SIZES = {
    "shoes": ("36", "37", "38", "39", "40", "41", "42", "43", "44", "45"),
    "men_shoes": ("39", "40", "41", "42", "43", "44", "45"),
    "women_shoes": ("35", "36", "37", "38", "39", "40"),
    "apparel": ("S", "M", "L", "XL", "XXL"),
    "women": ("XS", "S", "M", "L", "XL"),
    "socks": ("M", "L"),
    "one": ("F",),
}

# code, Chinese name
COLOURS = (
    ("BK", "黑色"),
    ("WH", "白色"),
    ("GY", "灰色"),
    ("NV", "藏青"),
    ("RD", "中国红"),
    ("BL", "湖蓝"),
    ("GN", "墨绿"),
    ("OR", "荧光橙"),
    ("PK", "樱花粉"),
    ("BG", "燕麦米"),
    ("YL", "柠檬黄"),
    ("PU", "葡萄紫"),
)

STYLES = (
    # Running shoes
    StyleSpec("RUN", "疾风3代 跑鞋", 69900, "men_shoes"),
    StyleSpec("RUN", "疾风3代 女子跑鞋", 69900, "women_shoes"),
    StyleSpec("RUN", "云朵轻跑", 49900, "shoes"),
    StyleSpec("RUN", "云朵轻跑 女款", 49900, "women_shoes"),
    StyleSpec("RUN", "竞速碳板 PRO", 129900, "shoes", "member"),
    StyleSpec("RUN", "马拉松竞速2", 99900, "shoes"),
    StyleSpec("RUN", "山行越野跑鞋", 79900, "men_shoes"),
    StyleSpec("RUN", "日常慢跑鞋", 39900, "shoes", "traffic"),
    StyleSpec("RUN", "缓震守护", 59900, "shoes"),
    StyleSpec("RUN", "夜跑反光款", 54900, "shoes"),
    # Basketball shoes
    StyleSpec("BASK", "空战1 高帮", 89900, "men_shoes"),
    StyleSpec("BASK", "空战1 低帮", 79900, "men_shoes"),
    StyleSpec("BASK", "街头王者", 59900, "men_shoes"),
    StyleSpec("BASK", "突破者", 69900, "men_shoes"),
    StyleSpec("BASK", "后卫之星", 74900, "men_shoes", "member"),
    StyleSpec("BASK", "内线守护", 82900, "men_shoes"),
    StyleSpec("BASK", "实战训练篮球鞋", 45900, "men_shoes", "traffic"),
    # Training shoes
    StyleSpec("TRAIN", "全能综训鞋", 45900, "shoes"),
    StyleSpec("TRAIN", "力量训练鞋", 52900, "men_shoes"),
    StyleSpec("TRAIN", "轻盈跳绳鞋", 39900, "shoes"),
    StyleSpec("TRAIN", "瑜伽软底鞋", 29900, "women_shoes"),
    StyleSpec("TRAIN", "经典帆布鞋", 25900, "shoes", "traffic"),
    StyleSpec("TRAIN", "复古老爹鞋", 56900, "shoes"),
    # T-shirts
    StyleSpec("TEE", "速干短袖T恤", 12900, "apparel"),
    StyleSpec("TEE", "速干短袖T恤 女款", 12900, "women"),
    StyleSpec("TEE", "LOGO纯棉T恤", 9900, "apparel", "traffic"),
    StyleSpec("TEE", "跑步压缩短袖", 19900, "apparel"),
    StyleSpec("TEE", "篮球宽松T恤", 15900, "apparel"),
    StyleSpec("TEE", "城市马拉松纪念T恤", 14900, "apparel", "fission"),
    StyleSpec("TEE", "冰感防晒T恤", 17900, "apparel"),
    StyleSpec("TEE", "运动背心", 8900, "apparel", "traffic"),
    StyleSpec("TEE", "长袖训练T恤", 16900, "apparel"),
    StyleSpec("TEE", "亲子T恤", 11900, "apparel", "fission"),
    # Hoodies
    StyleSpec("HOOD", "经典连帽卫衣", 29900, "apparel", "member"),
    StyleSpec("HOOD", "加绒圆领卫衣", 26900, "apparel"),
    StyleSpec("HOOD", "宽松落肩卫衣", 32900, "apparel"),
    StyleSpec("HOOD", "拉链开衫卫衣", 34900, "apparel"),
    StyleSpec("HOOD", "刺绣LOGO卫衣", 35900, "apparel"),
    StyleSpec("HOOD", "情侣款卫衣", 31900, "apparel", "fission"),
    # Jackets
    StyleSpec("JKT", "防风跑步夹克", 39900, "apparel"),
    StyleSpec("JKT", "轻薄羽绒服", 69900, "apparel"),
    StyleSpec("JKT", "三合一冲锋衣", 99900, "apparel", "member"),
    StyleSpec("JKT", "梭织运动外套", 45900, "apparel"),
    StyleSpec("JKT", "棒球外套", 42900, "apparel"),
    StyleSpec("JKT", "防晒皮肤衣", 25900, "women"),
    StyleSpec("JKT", "长款羽绒服", 109900, "apparel"),
    # Pants
    StyleSpec("PANT", "针织运动长裤", 23900, "apparel"),
    StyleSpec("PANT", "速干跑步短裤", 14900, "apparel"),
    StyleSpec("PANT", "束脚卫裤", 25900, "apparel"),
    StyleSpec("PANT", "工装休闲裤", 29900, "apparel"),
    StyleSpec("PANT", "篮球短裤", 16900, "apparel"),
    StyleSpec("PANT", "瑜伽紧身裤", 22900, "women"),
    StyleSpec("PANT", "加绒保暖裤", 27900, "apparel"),
    StyleSpec("PANT", "梭织直筒裤", 26900, "apparel"),
    # Socks
    StyleSpec("SOCK", "跑步功能袜 3双装", 5900, "socks", "traffic"),
    StyleSpec("SOCK", "篮球中筒袜", 3900, "socks"),
    StyleSpec("SOCK", "船袜 5双装", 4900, "socks", "traffic"),
    StyleSpec("SOCK", "毛巾底运动袜", 4500, "socks"),
    StyleSpec("SOCK", "压缩小腿袜", 8900, "socks", "member"),
    # Bags
    StyleSpec("BAG", "双肩运动背包", 25900, "one"),
    StyleSpec("BAG", "旅行健身包", 29900, "one"),
    StyleSpec("BAG", "斜挎腰包", 9900, "one"),
    StyleSpec("BAG", "鞋袋", 4900, "one", "traffic"),
    StyleSpec("BAG", "户外登山包", 39900, "one"),
)
