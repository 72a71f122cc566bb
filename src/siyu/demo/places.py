"""Where the demo brand trades: three branch companies, fourteen real Chinese cities and the real
shopping streets and malls its stores stand in.

Coordinates are WGS-84 degrees of the real place (a pedestrian street, a mall); the generator moves
each store by a few dozen metres, from the seed, so it stands somewhere in that street or mall. A
city's ``centre`` is its downtown (a central square or the main shopping district).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str


@dataclass(frozen=True)
class FranchiseeSpec:
    code: str
    name: str
    kind: str  # direct | dealer | agent | franchisee
    division: str  # administrative division code of its registration (for the credit code)
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class CitySpec:
    code: str  # the prefix of its store codes
    name: str
    region: str
    centre: tuple[float, float]  # latitude, longitude of downtown
    area_code: str  # telephone area code
    weight: int  # relative size of its customer base


@dataclass(frozen=True)
class SiteSpec:
    """A store's place: a real street or mall of the city."""

    city: str  # CitySpec.code
    name: str
    district: str
    address: str
    lat: float
    lng: float
    owner: str  # FranchiseeSpec.code
    hours: str = "10:00-22:00"
    weight: int = 10  # relative footfall


REGIONS = (
    RegionSpec("EAST", "华东分公司"),
    RegionSpec("SOUTH", "华南分公司"),
    RegionSpec("NORTHWEST", "华北西部分公司"),
)

FRANCHISEES = (
    FranchiseeSpec("DIRECT", "飞跃运动（上海）有限公司", "direct", "310000", "赵敏", "02162881000"),
    FranchiseeSpec("F-ZJ", "浙江跑者体育用品有限公司", "dealer", "330100", "钱伟", "057187650001"),
    FranchiseeSpec("F-JS", "江苏飞驰商贸有限公司", "dealer", "320100", "孙建国", "02584560002"),
    FranchiseeSpec("F-GD", "广东南越体育发展有限公司", "agent", "440100", "李嘉欣", "02038760003"),
    FranchiseeSpec("F-FJ", "厦门鹭岛运动用品有限公司", "franchisee", "350200", "吴志明", "059225670004"),
    FranchiseeSpec("F-HN", "湖南湘动商贸有限公司", "franchisee", "430100", "周红", "073184350005"),
    FranchiseeSpec("F-TJ", "天津津门体育用品有限公司", "franchisee", "120000", "郑涛", "02223450006"),
    FranchiseeSpec("F-SC", "成都蜀跑体育用品有限公司", "dealer", "510100", "冯丽", "02886540007"),
    FranchiseeSpec("F-SX", "陕西长安动力商贸有限公司", "franchisee", "610100", "陈刚", "02987650008"),
    FranchiseeSpec("F-HB", "湖北江城运动用品有限公司", "franchisee", "420100", "褚海燕", "02785430009"),
)

CITIES = (
    CitySpec("SH", "上海", "EAST", (31.2304, 121.4737), "021", 20),
    CitySpec("HZ", "杭州", "EAST", (30.2741, 120.1551), "0571", 11),
    CitySpec("NJ", "南京", "EAST", (32.0603, 118.7969), "025", 10),
    CitySpec("SU", "苏州", "EAST", (31.2990, 120.5853), "0512", 8),
    CitySpec("GZ", "广州", "SOUTH", (23.1291, 113.2644), "020", 15),
    CitySpec("SZ", "深圳", "SOUTH", (22.5431, 114.0579), "0755", 15),
    CitySpec("XM", "厦门", "SOUTH", (24.4798, 118.0894), "0592", 6),
    CitySpec("CS", "长沙", "SOUTH", (28.2282, 112.9388), "0731", 7),
    CitySpec("BJ", "北京", "NORTHWEST", (39.9042, 116.4074), "010", 18),
    CitySpec("TJ", "天津", "NORTHWEST", (39.1256, 117.1900), "022", 8),
    CitySpec("CD", "成都", "NORTHWEST", (30.6570, 104.0660), "028", 12),
    CitySpec("CQ", "重庆", "NORTHWEST", (29.5573, 106.5770), "023", 10),
    CitySpec("XA", "西安", "NORTHWEST", (34.2610, 108.9423), "029", 8),
    CitySpec("WH", "武汉", "NORTHWEST", (30.5928, 114.3055), "027", 10),
)

# In each city the first site is its first store (code <CITY>001); SH001 is the brand's flagship.
SITES = (
    # 上海
    SiteSpec(
        "SH", "南京西路旗舰店", "静安区", "南京西路1266号恒隆广场1层", 31.2298, 121.4595, "DIRECT", "10:00-22:30", 30
    ),
    SiteSpec("SH", "五角场店", "杨浦区", "淞沪路77号万达广场2层", 31.2994, 121.5146, "DIRECT"),
    SiteSpec("SH", "南京东路步行街店", "黄浦区", "南京东路800号", 31.2366, 121.4788, "DIRECT", "09:30-22:00", 16),
    SiteSpec("SH", "陆家嘴正大广场店", "浦东新区", "陆家嘴西路168号正大广场3层", 31.2373, 121.5010, "DIRECT"),
    SiteSpec("SH", "徐家汇港汇店", "徐汇区", "虹桥路1号港汇恒隆广场4层", 31.1950, 121.4375, "DIRECT"),
    SiteSpec("SH", "中山公园龙之梦店", "长宁区", "长宁路1018号龙之梦购物中心3层", 31.2197, 121.4166, "DIRECT"),
    SiteSpec("SH", "七宝万科广场店", "闵行区", "漕宝路3366号七宝万科广场2层", 31.1575, 121.3540, "DIRECT", weight=8),
    # 杭州
    SiteSpec("HZ", "湖滨银泰店", "上城区", "延安路258号湖滨银泰in77 C区1层", 30.2579, 120.1636, "F-ZJ", weight=14),
    SiteSpec("HZ", "武林银泰店", "拱墅区", "延安路530号武林银泰4层", 30.2720, 120.1638, "F-ZJ"),
    SiteSpec("HZ", "西溪印象城店", "余杭区", "五常大道1号西溪印象城2层", 30.2855, 120.0470, "F-ZJ"),
    SiteSpec("HZ", "滨江龙湖天街店", "滨江区", "江汉路1515号龙湖天街3层", 30.2085, 120.2105, "F-ZJ", weight=8),
    SiteSpec("HZ", "城西银泰城店", "西湖区", "丰潭路380号城西银泰城3层", 30.2975, 120.1105, "F-ZJ", weight=8),
    # 南京
    SiteSpec("NJ", "新街口德基店", "玄武区", "中山路18号德基广场二期5层", 32.0443, 118.7843, "F-JS", weight=14),
    SiteSpec("NJ", "夫子庙店", "秦淮区", "贡院街128号", 32.0210, 118.7889, "F-JS", "09:30-22:00"),
    SiteSpec("NJ", "河西万达广场店", "建邺区", "江东中路98号万达广场2层", 32.0310, 118.7350, "F-JS"),
    SiteSpec("NJ", "仙林金鹰湖滨天地店", "栖霞区", "元化路8号金鹰湖滨天地2层", 32.1090, 118.9200, "F-JS", weight=7),
    SiteSpec("NJ", "江宁万达广场店", "江宁区", "竹山路68号万达广场3层", 31.9500, 118.8380, "F-JS", weight=7),
    # 苏州
    SiteSpec("SU", "观前街店", "姑苏区", "观前街188号", 31.3110, 120.6240, "F-JS", "09:30-21:30", 12),
    SiteSpec("SU", "苏州中心店", "工业园区", "苏州大道西9号苏州中心商场3层", 31.3175, 120.6695, "F-JS"),
    SiteSpec("SU", "石路步行街店", "姑苏区", "石路88号", 31.3155, 120.6005, "F-JS", "09:30-21:30", 8),
    SiteSpec("SU", "狮山龙湖天街店", "虎丘区", "狮山路199号龙湖天街2层", 31.2970, 120.5560, "F-JS", weight=8),
    # 广州
    SiteSpec("GZ", "天河城店", "天河区", "天河路208号天河城3层", 23.1324, 113.3227, "DIRECT", weight=16),
    SiteSpec("GZ", "北京路步行街店", "越秀区", "北京路238号", 23.1250, 113.2690, "DIRECT", "09:30-22:00", 12),
    SiteSpec("GZ", "上下九步行街店", "荔湾区", "上下九路96号", 23.1190, 113.2450, "F-GD", "09:30-22:00"),
    SiteSpec("GZ", "白云万达广场店", "白云区", "云城东路509号万达广场2层", 23.1720, 113.2680, "F-GD"),
    SiteSpec("GZ", "番禺万达广场店", "番禺区", "汉溪大道东389号万达广场3层", 22.9400, 113.3850, "F-GD", weight=8),
    SiteSpec("GZ", "江南西店", "海珠区", "江南大道中168号", 23.0960, 113.2700, "F-GD", weight=8),
    # 深圳
    SiteSpec("SZ", "华强北店", "福田区", "华强北路3006号", 22.5440, 114.0850, "DIRECT", "10:00-22:00", 14),
    SiteSpec("SZ", "东门步行街店", "罗湖区", "东门中路2048号", 22.5464, 114.1196, "DIRECT", "09:30-22:30", 12),
    SiteSpec("SZ", "海岸城店", "南山区", "文心五路33号海岸城购物中心2层", 22.5172, 113.9365, "DIRECT"),
    SiteSpec("SZ", "深圳湾万象城店", "南山区", "科苑南路2888号深圳湾万象城B1层", 22.5165, 113.9510, "DIRECT"),
    SiteSpec("SZ", "宝安壹方城店", "宝安区", "新湖路99号壹方城3层", 22.5575, 113.8840, "DIRECT"),
    SiteSpec("SZ", "龙华九方店", "龙华区", "人民路4022号九方购物中心2层", 22.6560, 114.0280, "DIRECT", weight=8),
    # 厦门
    SiteSpec("XM", "中山路步行街店", "思明区", "中山路168号", 24.4560, 118.0800, "F-FJ", "09:30-22:30", 12),
    SiteSpec("XM", "SM城市广场店", "湖里区", "嘉禾路468号SM城市广场2层", 24.5040, 118.1270, "F-FJ"),
    SiteSpec("XM", "万象城店", "思明区", "湖滨东路99号万象城3层", 24.4868, 118.1130, "F-FJ"),
    SiteSpec("XM", "集美万达广场店", "集美区", "银江路137号万达广场2层", 24.5760, 118.0970, "F-FJ", weight=7),
    # 长沙
    SiteSpec("CS", "五一广场店", "芙蓉区", "黄兴中路188号", 28.1963, 112.9766, "F-HN", weight=14),
    SiteSpec("CS", "黄兴路步行街店", "天心区", "黄兴南路步行街66号", 28.1880, 112.9770, "F-HN", "09:30-22:30"),
    SiteSpec("CS", "梅溪湖步步高店", "岳麓区", "枫林三路1099号步步高广场3层", 28.1970, 112.8760, "F-HN"),
    SiteSpec("CS", "德思勤广场店", "雨花区", "湘府中路18号德思勤城市广场2层", 28.1090, 112.9960, "F-HN", weight=7),
    # 北京
    SiteSpec("BJ", "王府井店", "东城区", "王府井大街138号", 39.9145, 116.4110, "DIRECT", "09:30-22:00", 16),
    SiteSpec("BJ", "三里屯太古里店", "朝阳区", "三里屯路19号太古里南区", 39.9338, 116.4545, "DIRECT", weight=14),
    SiteSpec("BJ", "西单大悦城店", "西城区", "西单北大街131号大悦城4层", 39.9115, 116.3730, "DIRECT"),
    SiteSpec("BJ", "中关村店", "海淀区", "中关村大街15号中关村广场购物中心2层", 39.9830, 116.3160, "DIRECT"),
    SiteSpec("BJ", "望京凯德MALL店", "朝阳区", "广顺北大街33号凯德MALL 3层", 39.9960, 116.4700, "DIRECT"),
    SiteSpec("BJ", "五棵松华熙LIVE店", "海淀区", "复兴路69号华熙LIVE·五棵松", 39.9060, 116.2750, "DIRECT", weight=8),
    # 天津
    SiteSpec("TJ", "滨江道店", "和平区", "滨江道208号", 39.1210, 117.1980, "F-TJ", "09:30-22:00", 12),
    SiteSpec("TJ", "天津大悦城店", "南开区", "南门外大街2号大悦城3层", 39.1422, 117.1786, "F-TJ"),
    SiteSpec("TJ", "银河国际购物中心店", "河西区", "乐园道9号银河国际购物中心2层", 39.0900, 117.2080, "F-TJ"),
    SiteSpec("TJ", "意式风情区店", "河北区", "自由道28号", 39.1330, 117.2010, "F-TJ", weight=7),
    # 成都
    SiteSpec("CD", "春熙路店", "锦江区", "春熙路北段88号", 30.6550, 104.0810, "F-SC", "09:30-22:30", 15),
    SiteSpec("CD", "来福士广场店", "武侯区", "人民南路四段3号来福士广场B1层", 30.6320, 104.0710, "F-SC"),
    SiteSpec("CD", "环球中心店", "高新区", "天府大道北段1700号环球中心2层", 30.5710, 104.0640, "F-SC"),
    SiteSpec("CD", "万象城店", "成华区", "双庆路8号万象城3层", 30.6560, 104.1070, "F-SC"),
    SiteSpec("CD", "金牛万达广场店", "金牛区", "一环路北三段1号万达广场2层", 30.7050, 104.0460, "F-SC", weight=7),
    # 重庆
    SiteSpec("CQ", "解放碑店", "渝中区", "民权路28号", 29.5575, 106.5775, "F-SC", "09:30-22:30", 14),
    SiteSpec("CQ", "观音桥步行街店", "江北区", "观音桥步行街8号", 29.5760, 106.5330, "F-SC"),
    SiteSpec("CQ", "三峡广场店", "沙坪坝区", "三峡广场步行街18号", 29.5580, 106.4580, "F-SC"),
    SiteSpec("CQ", "杨家坪步行街店", "九龙坡区", "杨家坪步行街66号", 29.5030, 106.5110, "F-SC", weight=7),
    # 西安
    SiteSpec("XA", "钟楼开元店", "碑林区", "东大街1号", 34.2600, 108.9470, "F-SX", "09:30-22:00", 14),
    SiteSpec("XA", "小寨赛格店", "雁塔区", "长安中路123号赛格国际购物中心3层", 34.2230, 108.9470, "F-SX", weight=12),
    SiteSpec("XA", "大唐不夜城店", "雁塔区", "慈恩路318号", 34.2120, 108.9660, "F-SX", "10:00-23:00"),
    SiteSpec("XA", "高新大都荟店", "雁塔区", "科技路48号大都荟2层", 34.2300, 108.8880, "F-SX", weight=7),
    # 武汉
    SiteSpec("WH", "江汉路步行街店", "江汉区", "江汉路118号", 30.5800, 114.2900, "F-HB", "09:30-22:00", 14),
    SiteSpec("WH", "楚河汉街店", "武昌区", "楚河汉街1号", 30.5580, 114.3370, "F-HB"),
    SiteSpec("WH", "光谷步行街店", "洪山区", "珞喻路766号光谷步行街", 30.5050, 114.3990, "F-HB"),
    SiteSpec("WH", "武汉天地店", "江岸区", "中山大道1627号武汉天地", 30.6060, 114.3070, "F-HB"),
    SiteSpec("WH", "王家湾摩尔城店", "汉阳区", "龙阳大道特6号摩尔城2层", 30.5580, 114.2130, "F-HB", weight=7),
)

CITY_BY_CODE = {c.code: c for c in CITIES}
