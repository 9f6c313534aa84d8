"""Build the default input CSVs in sim/data/ (provenance of every value: PROVENANCE.md).

Run from the repository root:   python sim/data/build_data.py
Reads only ../shared/reference/census_city_2020.csv (leiii/census derivative, MIT, (c) 2022 Lei Dong).
Every other number below is typed in from the public sources named next to it (and in PROVENANCE.md),
or is an explicit assumption marked `ASSUMPTION`. Not needed at runtime: the engine reads the CSVs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CENSUS = REPO.parent / "shared" / "reference" / "census_city_2020.csv"

# ---------------------------------------------------------------------------------------------
# 1. Provinces
# ---------------------------------------------------------------------------------------------
# code: (name, name_en, NBS region, pop_2020 census bulletin persons, urban share % (official),
#        urban-share status, urban per-capita disposable income 2020 yuan)
# pop: 7th census bulletin no.3 (identical list in several public GitHub files, e.g. a notebook
#      printing "各地区人口.csv": 全国 1411778724, 北京 21893095 ...; facts.md section 7).
# urban share: provincial 7th-census bulletins; status C = confirmed (bulletin text
#      or exact arithmetic), F = facts.md 'official' column agrees with the complete leiii sum to
#      within 0.3 pp (facts.md treats these as confirmed), M = facts.md memory value only.
# income: recalled NBS China Statistical Yearbook 2021 table 'per capita disposable income of urban
#      households by region, 2020' -- NOT verified (confidence L).
PROVINCES = {
    110000: ("北京市", "Beijing", "East", 21893095, 87.55, "F", 75602),
    120000: ("天津市", "Tianjin", "East", 13866009, 84.70, "F", 47659),
    130000: ("河北省", "Hebei", "East", 74610235, 60.07, "M", 37286),
    140000: ("山西省", "Shanxi", "Central", 34915616, 62.53, "F", 34793),
    150000: ("内蒙古自治区", "Inner Mongolia", "West", 24049155, 67.48, "F", 41353),
    210000: ("辽宁省", "Liaoning", "Northeast", 42591407, 72.14, "F", 40376),
    220000: ("吉林省", "Jilin", "Northeast", 24073453, 62.64, "C", 33396),
    230000: ("黑龙江省", "Heilongjiang", "Northeast", 31850088, 65.61, "F", 31115),
    310000: ("上海市", "Shanghai", "East", 24870895, 89.30, "F", 76437),
    320000: ("江苏省", "Jiangsu", "East", 84748016, 73.44, "F", 53102),
    330000: ("浙江省", "Zhejiang", "East", 64567588, 72.17, "F", 62699),
    340000: ("安徽省", "Anhui", "Central", 61027171, 58.33, "F", 39442),
    350000: ("福建省", "Fujian", "East", 41540086, 68.75, "F", 47160),
    360000: ("江西省", "Jiangxi", "Central", 45188635, 60.44, "F", 38556),
    370000: ("山东省", "Shandong", "East", 101527453, 63.05, "F", 43726),
    410000: ("河南省", "Henan", "Central", 99365519, 55.43, "C", 34750),
    420000: ("湖北省", "Hubei", "Central", 57752557, 62.89, "M", 36706),
    430000: ("湖南省", "Hunan", "Central", 66444864, 58.76, "F", 41698),
    440000: ("广东省", "Guangdong", "East", 126012510, 74.15, "C", 50257),
    450000: ("广西壮族自治区", "Guangxi", "West", 50126804, 54.20, "C", 35859),
    460000: ("海南省", "Hainan", "East", 10081232, 60.27, "M", 37097),
    500000: ("重庆市", "Chongqing", "West", 32054159, 69.46, "F", 40006),
    510000: ("四川省", "Sichuan", "West", 83674866, 56.73, "F", 38253),
    520000: ("贵州省", "Guizhou", "West", 38562148, 53.15, "F", 36096),
    530000: ("云南省", "Yunnan", "West", 47209277, 50.05, "F", 37500),
    540000: ("西藏自治区", "Tibet", "West", 3648100, 35.73, "F", 41156),
    610000: ("陕西省", "Shaanxi", "West", 39528999, 62.66, "M", 37868),
    620000: ("甘肃省", "Gansu", "West", 25019831, 52.23, "F", 33822),
    630000: ("青海省", "Qinghai", "West", 5923957, 60.08, "F", 35506),
    640000: ("宁夏回族自治区", "Ningxia", "West", 7202654, 64.96, "F", 35720),
    650000: ("新疆维吾尔自治区", "Xinjiang", "West", 25852345, 56.53, "C", 34838),
}
# Exact urban (城镇) counts published in provincial bulletins found while building the file.
OFFICIAL_URBAN_COUNT = {
    650000: 14613622,  # 新疆七普公报: 居住在城镇的人口为14613622人, 占56.53%
    450000: 27170956,  # 广西七普公报: 居住在城镇的人口为27170956人, 占54.20%
    440000: 93436100,  # 广东七普公报: 城镇人口9343.61万人, 占74.15%
}
NATIONAL_URBAN_INCOME_2020 = 43834  # NBS 2020 communiqué, urban per-capita disposable income (recalled)
NATIONAL_RESIDENTIAL_PRICE_2020 = 9980  # NBS: 2020 residential sales 154,567亿元 / 154,878万m2 (recalled)
PRICE_INCOME_ELASTICITY = 2.0  # ASSUMPTION (see PROVENANCE.md)

# ---------------------------------------------------------------------------------------------
# 2. Urban-district (城区) resident population, 2020 census (《2020中国人口普查分县资料》 as tabulated
#    in zh.wikipedia 中華人民共和國城市人口排名, revision 94716648, read from the public GitHub file
#    Ethan-H147/china_interactive_map scripts/population-source.json). Key: (province short, name).
#    For 自治州/地区/盟 rows the figure is the 城区 of the seat county-level city (named in SEAT).
# ---------------------------------------------------------------------------------------------
DISTRICT = {
    "重庆市": 16343989, "上海市": 19873080, "北京市": 17751681, "深圳市": 17438289, "成都市": 13340304,
    "广州市": 14878353, "天津市": 10933092, "武汉市": 9953005, "苏州市": 3991180, "杭州市": 8741724,
    "郑州市": 5344842, "西安市": 9283714, "东莞市": 9557552, "佛山市": 8538876, "长沙市": 5546354,
    "南京市": 7914639, "石家庄市": 4332382, "合肥市": 3777623, "青岛市": 6007745, "沈阳市": 7067239,
    "宁波市": 3608835, "哈尔滨市": 5499284, "温州市": 2381811, "济南市": 5877987, "昆明市": 5340881,
    "保定市": 1896945, "无锡市": 3570882, "大连市": 5208288, "临沂市": 2467222, "潍坊市": 1860989,
    "南宁市": 4567493, "泉州市": 1354018, "福州市": 3535823, "长春市": 3425890, "徐州市": 2055095,
    "邯郸市": 1940903, "南通市": 1582373, "济宁市": 1301175, "唐山市": 2135991, "赣州市": 1639373,
    "南阳市": 849688, "南昌市": 3347548, "金华市": 803612, "贵阳市": 3826905, "烟台市": 2009631,
    "太原市": 4049693, "厦门市": 4363835, "洛阳市": 1992681, "菏泽市": 817123, "惠州市": 2668887,
    "盐城市": 1354398, "台州市": 1338412, "常州市": 3088169, "汕头市": 2530788, "乌鲁木齐市": 3730317,
    "嘉兴市": 987564, "周口市": 759576, "中山市": 2742775, "遵义市": 1467408, "绍兴市": 2166695,
    "沧州市": 810845, "兰州市": 2889065, "商丘市": 762026, "衡阳市": 1025729, "新乡市": 1093219,
    "廊坊市": 659566, "上饶市": 1196617, "泰安市": 1159255, "淄博市": 2395827, "阜阳市": 861427,
    "邵阳市": 632945, "邢台市": 1172708, "江门市": 1673178, "扬州市": 1506910, "襄阳市": 1463654,
    "聊城市": 1090689, "信阳市": 886838, "宿迁市": 827263, "漳州市": 765072, "驻马店市": 481403,
    "泰州市": 976684, "岳阳市": 1067337, "淮安市": 1303052, "德州市": 658512, "常德市": 897644,
    "柳州市": 2058881, "毕节市": 609901, "安阳市": 991347, "荆州市": 826564, "咸阳市": 1351034,
    "玉林市": 730564, "连云港市": 1022210, "曲靖市": 972159, "揭阳市": 947303, "宜春市": 679153,
    "南充市": 1193494, "九江市": 895579, "黄冈市": 320943, "株洲市": 1315518, "呼和浩特市": 2232683,
    "张家口市": 1092783, "郴州市": 770651, "茂名市": 897785, "达州市": 968931, "平顶山市": 989981,
    "芜湖市": 1217401, "桂林市": 1253018, "永州市": 583216, "孝感市": 697017, "鞍山市": 1457387,
    "镇江市": 797942, "绵阳市": 1382004, "开封市": 1101705, "滁州市": 446172, "安庆市": 643353,
    "宜昌市": 1222699, "宜宾市": 1079605, "运城市": 655620, "海口市": 2089572, "许昌市": 826346,
    "滨州市": 742801, ("江西", "吉安市"): 438828, "宿州市": 638910, "渭南市": 495833,
    "衡水市": 838460, "吉林市": 1296206, "银川市": 1519150, "枣庄市": 1075279, "大同市": 1754682,
    "榆林市": 827247, "焦作市": 778039, "湖州市": 745028, "珠海市": 1898012, "齐齐哈尔市": 1211530,
    "怀化市": 586767, "清远市": 890808, "贵港市": 712012, "赤峰市": 1013670, "泸州市": 999809,
    "六安市": 818023, "亳州市": 634335, "临汾市": 666185, "肇庆市": 836895, "抚州市": 786042,
    "威海市": 667730, "晋中市": 786456, "大庆市": 1275974, "莆田市": 1382456, "昭通市": 375322,
    "秦皇岛市": 1249303, "益阳市": 511966, "西宁市": 1618954, "德阳市": 664103, "宁德市": 390652,
    "承德市": 537583, "宝鸡市": 854248, "濮阳市": 642521, "淮南市": 1085864, "蚌埠市": 689398,
    "日照市": 854826, "吕梁市": 333778, "娄底市": 543950, "长治市": 1024148, "湘潭市": 716064,
    "龙岩市": 733581, "乐山市": 701111, "鄂尔多斯市": 668906, "呼伦贝尔市": 432316, "潮州市": 933560,
    "绥化市": 316174, "韶关市": 738654, "汉中市": 529668, "黄石市": 672423, "遂宁市": 750216,
    "南平市": 455927, "梧州市": 613126, "内江市": 443664, "三明市": 361504, "东营市": 930562,
    "营口市": 956686, "汕尾市": 303634, "百色市": 494461, "丽水市": 408801, "马鞍山市": 863074,
    "河池市": 456821, "荆门市": 586477, "宣城市": 256084, "铜仁市": 417810, "咸宁市": 451984,
    "丹东市": 684536, "牡丹江市": 733482, "眉山市": 674734, "六盘水市": 707389, "抚顺市": 1208021,
    "忻州市": 368109, "通辽市": 434037, "朝阳市": 584880, "广安市": 399907, "阳江市": 743484,
    "佳木斯市": 672876, "延安市": 457152, "钦州市": 518653, "自贡市": 767786, "晋城市": 604967,
    "河源市": 631400, "天水市": 657701, "葫芦岛市": 642884, "铁岭市": 251693, "衢州市": 532745,
    "漯河市": 658697, "淮北市": 815765, "巴中市": 472166, "安康市": 316416, "萍乡市": 614472,
    "十堰市": 1084183, "玉溪市": 512719, "三门峡市": 382018, "随州市": 444387, "安顺市": 536236,
    "鸡西市": 626019, "锦州市": 1014814, "通化市": 387426, "广元市": 475784, "盘锦市": 942809,
    "辽阳市": 742592, "松原市": 474062, "本溪市": 765932, "景德镇市": 538991, "云浮市": 332445,
    "乌兰察布市": 380206, "阜新市": 696563, "来宾市": 400854, "贺州市": 338683, "商洛市": 170919,
    "北海市": 640164, "普洱市": 289662, "定西市": 196987, "鹤壁市": 519716, "资阳市": 408262,
    "阳泉市": 508403, "四平市": 481333, "巴彦淖尔市": 399699, "崇左市": 218708, "庆阳市": 310421,
    "新余市": 681054, "陇南市": 185428, "铜陵市": 568928, "白银市": 433593, "保山市": 344187,
    "白城市": 244306, "攀枝花市": 670491, "黑河市": 175427, "舟山市": 596041, "平凉市": 323022,
    "双鸭山市": 361945, "池州市": 380458, "临沧市": 197787, "张家界市": 349673, "黄山市": 369432,
    "白山市": 349668, "吴忠市": 372737, "雅安市": 290242, "仙桃市": 463632, "伊春市": 296248,
    "鹰潭市": 377162, "鹤岗市": 502639, "三亚市": 696578, "鄂州市": 449699, "武威市": 393885,
    "酒泉市": 307539, "防城港市": 327733, "拉萨市": 547879, "丽江市": 233478, "石嘴山市": 365366,
    "张掖市": 264770, "辽源市": 406463, "海东市": 190040, "七台河市": 409432, "乌海市": 513469,
    "中卫市": 231304, "儋州市": 278672, "天门市": 257349, "固原市": 246800, "潜江市": 334961,
    "济源市": 399536, "哈密市": 336237, "克拉玛依市": 453669, "铜川市": 323960, "金昌市": 236943,
    "吐鲁番市": 117560, "嘉峪关市": 291577, "琼海市": 178091, "东方市": 191890, "日喀则市": 94464,
    "文昌市": 163550, "万宁市": 112075, "昌都市": 53012, "那曲市": 29661, "山南市": 52683,
    "林芝市": 57603, "五指山市": 51050,
}
# Seat (or only) county-level city of non-city prefectures, with its published 城区 population.
SEAT = {
    "昌吉回族自治州": ("昌吉市", 436965), "博尔塔拉蒙古自治州": ("博乐市", 171713),
    "巴音郭楞蒙古自治州": ("库尔勒市", 486090), "阿克苏地区": ("阿克苏市", 439374),
    "克孜勒苏柯尔克孜自治州": ("阿图什市", 90555), "喀什地区": ("喀什市", 378713),
    "和田地区": ("和田市", 284419), "伊犁哈萨克自治州": ("伊宁市", 627730), "塔城地区": ("塔城市", 106967),
    "阿勒泰地区": ("阿勒泰市", 80352), "恩施土家族苗族自治州": ("恩施市", 460163),
    "湘西土家族苗族自治州": ("吉首市", 303610), "黔东南苗族侗族自治州": ("凯里市", 487109),
    "黔南布依族苗族自治州": ("都匀市", 319239), "黔西南布依族苗族自治州": ("兴义市", 569150),
    "凉山彝族自治州": ("西昌市", 544615), "阿坝藏族羌族自治州": ("马尔康市", 31083),
    "甘孜藏族自治州": ("康定市", 46041), "大理白族自治州": ("大理市", 520016),
    "楚雄彝族自治州": ("楚雄市", 395083), "红河哈尼族彝族自治州": ("蒙自市", 391974),
    "文山壮族苗族自治州": ("文山市", 394422), "西双版纳傣族自治州": ("景洪市", 270044),
    "德宏傣族景颇族自治州": ("芒市", 196285), "迪庆藏族自治州": ("香格里拉市", 63776),
    "怒江傈僳族自治州": ("泸水市", 73750), "延边朝鲜族自治州": ("延吉市", 610911),
    "临夏回族自治州": ("临夏市", 311436), "甘南藏族自治州": ("合作市", 72293),
    "锡林郭勒盟": ("锡林浩特市", 325078), "兴安盟": ("乌兰浩特市", 301370),
    "海西蒙古族藏族自治州": ("德令哈市", 63156), "玉树藏族自治州": ("玉树市", 81984),
}
# Wikipedia rows judged garbled (城区 < 10% of the prefecture's census 城镇 population, or a row whose
# other columns belong to another city): replaced by the estimate rule.
DISTRICT_REJECTED = {"包头市": 189779, "朔州市": 41807, "梅州市": 65380, "湛江市": 196122}
# 2020 城镇 population (published, same Wikipedia table) for rows whose census-CSV urban cell is empty.
TOWNS_PUBLISHED = {
    "通化市": 1085368, "周口市": 3843349, "仙桃市": 752155, "潜江市": 494334, "天门市": 502908,
    "乌鲁木齐市": 3882487, "哈密市": 481690, "吐鲁番市": 333295, "克拉玛依市": 481249,
}
# Xinjiang Production and Construction Corps cities directly under the region in the census bulletin
# (same table): 2020 total and 城镇 population. Their totals sum exactly to the gap between the
# Xinjiang bulletin total and the sum of its 14 prefectures (1,231,138), so the remainder row is these
# four cities; the six newer corps cities (北屯, 铁门关, 双河, 可克达拉, 昆玉, 胡杨河) are inside prefectures.
CORPS_CITIES = {  # name: (total, towns)
    "石河子市": (498587, 461663), "阿拉尔市": (328241, 239647), "图木舒克市": (263245, 128056),
    "五家渠市": (141065, 118893),
}
REMAINDER_NAMES = {
    130000: "河北省直辖(定州市、雄安新区等)",
    220000: "吉林省直辖(未列单元)",
    460000: "海南省直辖(洋浦经济开发区)",
    610000: "陕西省直辖(杨凌示范区)",
    650000: "新疆自治区直辖县级市(石河子、阿拉尔、图木舒克、五家渠)",
}

# ---------------------------------------------------------------------------------------------
# 3. Potential regions (国发〔2024〕17号 §三) -- ASSUMPTION: conventional geographic definitions.
# ---------------------------------------------------------------------------------------------
POTENTIAL = {
    "jizhongnan": ["邢台市", "邯郸市", "衡水市"],
    "wanbei": ["淮北市", "亳州市", "宿州市", "蚌埠市", "阜阳市", "淮南市"],
    "luxinan": ["菏泽市", "济宁市", "枣庄市"],
    "yudongnan": ["周口市", "驻马店市", "信阳市"],
    "xiangxinan": ["邵阳市", "怀化市", "永州市"],
    "yuexi": ["湛江市", "茂名市", "阳江市"],
    "chuandong": ["南充市", "达州市", "广安市", "巴中市"],
}

# ---------------------------------------------------------------------------------------------
# 4. Metropolitan circles. Approved by NDRC up to end-2024 (16): membership from the published
#    plan scope as reported in the sources in PROVENANCE.md (partial prefectures counted in full).
#    Order matters: a prefecture named by two plans goes to the first (earlier-approved) one.
# ---------------------------------------------------------------------------------------------
METRO_APPROVED = [
    ("nanjing", "南京市", ["镇江市", "扬州市", "淮安市", "芜湖市", "马鞍山市", "滁州市", "宣城市"]),
    ("fuzhou", "福州市", ["莆田市", "宁德市", "南平市"]),
    ("chengdu", "成都市", ["德阳市", "眉山市", "资阳市"]),
    ("changzhutan", "长沙市", ["株洲市", "湘潭市"]),
    ("xian", "西安市", ["咸阳市", "铜川市", "渭南市", "陕西省直辖(杨凌示范区)"]),
    ("chongqing", "重庆市", ["广安市"]),
    ("wuhan", "武汉市", ["黄石市", "鄂州市", "孝感市", "黄冈市", "咸宁市", "仙桃市", "天门市", "潜江市"]),
    ("shenyang", "沈阳市", ["鞍山市", "抚顺市", "本溪市", "阜新市", "辽阳市", "铁岭市"]),
    ("hangzhou", "杭州市", ["湖州市", "嘉兴市", "绍兴市", "衢州市", "黄山市"]),
    ("zhengzhou", "郑州市", ["开封市", "新乡市", "焦作市", "许昌市"]),
    ("guangzhou", "广州市", ["佛山市", "肇庆市", "清远市", "云浮市", "韶关市"]),
    ("shenzhen", "深圳市", ["东莞市", "惠州市", "河源市", "汕尾市"]),
    ("qingdao", "青岛市", ["潍坊市"]),
    ("jinan", "济南市", ["淄博市", "泰安市", "德州市", "聊城市"]),
    ("xiamen", "厦门市", ["漳州市", "泉州市"]),
    ("hefei", "合肥市", ["淮南市", "六安市", "芜湖市", "马鞍山市", "滁州市"]),
]
# Other 超大/特大 cores without an NDRC-approved plan by end-2024: distance rule.
# Core point = approximate city-centre coordinates (ASSUMPTION, city-government location).
METRO_RULE_CORES = {
    "beijing": ("北京市", 116.40, 39.90), "shanghai": ("上海市", 121.47, 31.23),
    "tianjin": ("天津市", 117.20, 39.08), "dalian": ("大连市", 121.61, 38.91),
    "harbin": ("哈尔滨市", 126.53, 45.80), "kunming": ("昆明市", 102.83, 24.88),
}
METRO_RULE_KM = 100.0

# ---------------------------------------------------------------------------------------------
# 5. National history 2010-2024 (万人 unless stated). See PROVENANCE.md for each source.
# ---------------------------------------------------------------------------------------------
# year: total, urban, resident rate %, hukou rate % or None, confidence, note
HISTORY = {
    2010: (134091, 66978, 49.95, None, "M"),
    2011: (134916, 69927, 51.83, None, "L"),
    2012: (135922, 72175, 53.10, None, "L"),
    2013: (136726, 74502, 54.49, None, "L"),
    2014: (137646, 76738, 55.75, 35.9, "L"),
    2015: (138326, 79302, 57.33, None, "L"),
    2016: (139232, 81924, 58.84, 41.20, "M"),
    2017: (140011, 84343, 60.24, 42.35, "M"),
    2018: (140541, 86433, 61.50, 43.37, "M"),
    2019: (141008, 88426, 62.71, 44.38, "M"),
    2020: (141212, 90220, 63.89, 45.4, "H"),
    2021: (141260, 91425, 64.72, 46.7, "H"),
    2022: (141175, 92071, 65.22, None, "H"),
    2023: (140967, 93267, 66.16, 48.3, "H"),
    2024: (140828, 94350, 67.00, None, "H"),
}
# Migrant workers (农民工监测调查报告), 万人: total, local, out, inter-provincial, in towns (进城)
MIGRANTS = {
    2010: (24223, 8888, 15335, 7717, None),
    2011: (25278, 9415, 15863, 7473, None),
    2012: (26261, 9925, 16336, 7647, None),
    2013: (26894, 10284, 16610, 7739, None),
    2014: (27395, 10574, 16821, 7867, None),
    2015: (27747, 10863, 16884, 7745, None),
    2016: (28171, 11237, 16934, 7666, 13585),
    2017: (28652, 11467, 17185, 7675, 13710),
    2018: (28836, 11570, 17266, 7594, 13506),
    2019: (29077, 11652, 17425, 7508, 13500),
    2020: (28560, 11601, 16959, 7052, 13101),
    2021: (29251, 12079, 17172, 7130, 13309),
    2022: (29562, 12372, 17190, 7061, 13256),
    2023: (29753, 12095, 17658, 6751, 12816),
    2024: (29973, 12102, 17871, 6840, 13207),
}
# Births and deaths as published in the NBS statistical communiqués (万人).
VITAL = {
    2010: (1592, 951), 2011: (1604, 960), 2012: (1635, 966), 2013: (1640, 972), 2014: (1687, 977),
    2015: (1655, 975), 2016: (1786, 977), 2017: (1723, 986), 2018: (1523, 993), 2019: (1465, 998),
    2020: (1200, 998), 2021: (1062, 1014), 2022: (956, 1041), 2023: (902, 1110), 2024: (954, 1093),
}

# ---------------------------------------------------------------------------------------------
# 6. Demography
# ---------------------------------------------------------------------------------------------
CENSUS_TOTAL = 1411778724
CENSUS_MALE = 723339956  # bulletin no.4 (51.24%)
CENSUS_0_14, CENSUS_15_59, CENSUS_60P, CENSUS_65P = 253383938, 894376020, 264018766, 190635280
# ASSUMPTION: shape of the 2020 census 5-year age distribution (millions, recalled approximate values);
# rescaled below to the bulletin's 0-14 / 15-59 / 60-64 / 65+ totals.
AGE5_SHAPE = [77.9, 90.2, 85.3, 72.7, 74.9, 91.9, 124.1, 99.0, 93.0, 114.2, 121.2, 101.4,
              73.4, 74.0, 49.6, 31.2, 20.4, 10.6, 3.5, 0.8, 0.12]  # 0-4 ... 95-99, 100+
# ASSUMPTION: sex ratio (males per 100 females) by 5-year group, shape of the 2020 census profile;
# rescaled to the bulletin's male total.
SEX_RATIO5 = [111.3, 113.8, 116.9, 116.6, 112.9, 108.0, 106.9, 105.4, 104.3, 103.2, 102.1, 101.8,
              101.2, 98.6, 97.0, 92.6, 83.9, 73.0, 60.0, 47.0, 35.0]
# Life expectancy at birth by sex, 2020 census life table (male 75.37, female 80.88, total 77.93; recalled).
E0_CENSUS_2020 = {"male": 75.37, "female": 80.88}
# Projections: the mortality level that reproduces the deaths of 2024 (NBS communiqué) on the population of
# end-2023 as the model keeps it through 2024 (the census aged with this table and the published births;
# sim.synthesis.project_age_sex, as the projections' start state is built), both sexes' census life
# expectancies shifted alike. 2023's deaths (11.10 M) are left out: they include the COVID-19 wave of the
# winter 2022-23. (The 2023 national life expectancy, 78.6, gave this Siler shape 6% more deaths than 2024's.)
DEATHS_2024 = 10.93e6
Q0_TARGET = {"male": 0.0058, "female": 0.0050}  # ASSUMPTION around the published IMR 5.4 per mille (2020)
SILER = {"male": dict(c=0.00025, b3=0.090), "female": dict(c=0.00012, b3=0.100)}  # ASSUMPTION
FERT_MEAN_AGE, FERT_SD = 29.3, 5.3  # ASSUMPTION (gamma-shaped ASFR schedule)
BIRTHS_TARGET = {2023: 9.02e6, 2024: 9.54e6}  # NBS communiqués
# The backtest from end-2020 uses only what was known by end-2022 (2023-2024 are its out-of-sample years): its
# mortality level reproduces the deaths of 2020 on the census population (the census life table's own e0
# would give 10.67 M, 7% too many, with this Siler shape), its fertility the births of 2021 and 2022 (NBS
# communiqués).
DEATHS_2020 = 9.98e6
BIRTHS_TARGET_2020 = {2021: 10.62e6, 2022: 9.56e6}


def read_census() -> pd.DataFrame:
    d = pd.read_csv(CENSUS)
    return d[~d["province_code"].isin([810000, 820000])].copy()


def haversine_km(lon1, lat1, lon2, lat2):
    r = 6371.0
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


def official_urban(code: int) -> int:
    if code in OFFICIAL_URBAN_COUNT:
        return OFFICIAL_URBAN_COUNT[code]
    return round(PROVINCES[code][4] / 100 * PROVINCES[code][3])


def build_cities(census: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    rows = []
    corps_rows = census[census["city_code"].between(659001, 659010)]
    census = census[~census["city_code"].between(659001, 659010)]
    for _, r in census.iterrows():
        urban, usrc = r["popu_urban_2020"], "census"
        if pd.isna(urban) and r["city"] in TOWNS_PUBLISHED:
            urban, usrc = TOWNS_PUBLISHED[r["city"]], "published"
        rows.append(dict(
            city_code=int(r["city_code"]), name=r["city"], province_code=int(r["province_code"]),
            pop_2020=int(r["popu_2020"]), urban_pop_2020=urban, urban_src=usrc if not pd.isna(urban) else "",
            lon=r["centroid_lon"], lat=r["centroid_lat"],
            age_0_14=r["age_0_14_2020"] / 100, age_15_59=r["age_15_59_2020"] / 100,
            age_60p=r["age_60_2020"] / 100, household_size_2020=r["household_2020"],
            urban_2010_share=(r["popu_urban_2010"] / r["popu_2010"]) if r["popu_2010"] > 0 else np.nan,
            remainder=False,
        ))
    df = pd.DataFrame(rows)

    # remainder rows so that city populations sum to the bulletin totals
    for code, p in PROVINCES.items():
        sub = df[df.province_code == code]
        gap = p[3] - int(sub.pop_2020.sum())
        if gap == 0:
            continue
        assert gap > 0, (code, gap)
        w = sub.pop_2020
        if code == 650000:  # corps cities: centroid weighted by the corps cities' own populations
            cw = corps_rows[corps_rows.city.isin(list(CORPS_CITIES))]
            cw = cw.assign(wt=cw.city.map(lambda n: CORPS_CITIES[n][0]))
            assert sum(v[0] for v in CORPS_CITIES.values()) == gap
            lon = float(np.average(cw.centroid_lon, weights=cw.wt))
            lat = float(np.average(cw.centroid_lat, weights=cw.wt))
        else:
            lon = float(np.average(sub.lon, weights=w))
            lat = float(np.average(sub.lat, weights=w))
        ok = sub.dropna(subset=["age_0_14"])
        hh = sub.dropna(subset=["household_size_2020"])
        if hh.empty:  # Xinjiang: no household sizes in the census CSV -> national mean
            hh = df.dropna(subset=["household_size_2020"])
        df.loc[len(df)] = dict(
            city_code=code + 9000, name=REMAINDER_NAMES[code], province_code=code, pop_2020=gap,
            urban_pop_2020=np.nan, urban_src="", lon=lon, lat=lat,
            age_0_14=np.average(ok.age_0_14, weights=ok.pop_2020),
            age_15_59=np.average(ok.age_15_59, weights=ok.pop_2020),
            age_60p=np.average(ok.age_60p, weights=ok.pop_2020),
            household_size_2020=np.average(hh.household_size_2020, weights=hh.pop_2020),
            urban_2010_share=np.nan, remainder=True,
        )
        notes.append(f"{code} remainder {gap}")

    # rows with missing ages / household size: province population-weighted mean
    for col in ["age_0_14", "age_15_59", "age_60p", "household_size_2020"]:
        for i in df.index[df[col].isna()]:
            sub = df[(df.province_code == df.at[i, "province_code"]) & df[col].notna()]
            if sub.empty:  # whole province missing (Xinjiang household size): national mean
                sub = df[df[col].notna()]
            df.at[i, col] = np.average(sub[col], weights=sub.pop_2020)
            notes.append(f"filled {col} for {df.at[i, 'name']}")

    # ---- urban reconciliation ----
    for code in PROVINCES:
        sel = df.province_code == code
        target = official_urban(code)
        known = df.loc[sel & df.urban_pop_2020.notna(), "urban_pop_2020"].sum()
        unknown = df.index[sel & df.urban_pop_2020.isna()]
        if len(unknown) == 0:
            continue
        if code == 650000:
            corps_tot = sum(v[0] for v in CORPS_CITIES.values())
            corps_town = sum(v[1] for v in CORPS_CITIES.values())
            rem = df.index[sel & df.remainder]
            assert corps_tot == int(df.loc[rem, "pop_2020"].sum())
            df.loc[rem, "urban_pop_2020"] = corps_town
            df.loc[rem, "urban_src"] = "published"
            pref = [i for i in unknown if i not in rem]
            resid = target - known - df.loc[rem, "urban_pop_2020"].sum()
            s10 = df.loc[pref, "urban_2010_share"].clip(0.02, 0.98).to_numpy()
            pops = df.loc[pref, "pop_2020"].to_numpy()
            logit = np.log(s10 / (1 - s10))

            def f(delta, pops=pops, logit=logit, resid=resid):
                return (pops / (1 + np.exp(-(logit + delta)))).sum() - resid

            delta = brentq(f, -5, 5)
            df.loc[pref, "urban_pop_2020"] = pops / (1 + np.exp(-(logit + delta)))
            df.loc[pref, "urban_src"] = "assumption: 2010 share logit-shifted"
            notes.append(f"Xinjiang logit shift {delta:.4f}")
        else:
            upop = df.loc[unknown, "pop_2020"].sum()
            s = (target - known) / upop
            s_used = min(max(s, 0.20), 0.95)
            df.loc[unknown, "urban_pop_2020"] = df.loc[unknown, "pop_2020"] * s_used
            df.loc[unknown, "urban_src"] = "assumption: province residual share"
            notes.append(f"{code}: residual share {s:.4f} used {s_used:.4f} over {list(df.loc[unknown, 'name'])}")
    df["urban_pop_2020"] = df["urban_pop_2020"].round().astype(int)

    # ---- district (城区) population ----
    dist, dsrc = [], []
    for _, r in df.iterrows():
        key = ("江西", r["name"]) if r["name"] == "吉安市" and r.province_code == 360000 else r["name"]
        if r["remainder"]:
            dist.append(np.nan)
            dsrc.append("estimate")
        elif key in DISTRICT and not (r["name"] == "吉安市" and r.province_code != 360000):
            dist.append(DISTRICT[key])
            dsrc.append("published")
        elif r["name"] in SEAT:
            dist.append(SEAT[r["name"]][1])
            dsrc.append("published")
        else:
            dist.append(np.nan)
            dsrc.append("estimate")
    df["district_pop_2020"] = dist
    df["district_pop_source"] = dsrc
    pub = df[(df.district_pop_source == "published") & (df.district_pop_2020 < 3e6)
             & ~df.name.isin(SEAT.keys())]
    ratio = float((pub.district_pop_2020 / pub.urban_pop_2020).median())
    notes.append(f"district/urban median ratio {ratio:.4f} over {len(pub)} published prefectures")
    est = df.district_pop_source == "estimate"
    df.loc[est, "district_pop_2020"] = (df.loc[est, "urban_pop_2020"] * ratio).clip(upper=2_999_999).round()
    df["district_pop_2020"] = df["district_pop_2020"].astype(int)
    df.attrs["district_ratio"] = ratio

    # ---- potential regions ----
    df["potential_region"] = ""
    for key, names in POTENTIAL.items():
        for n in names:
            m = df.name == n
            assert m.sum() == 1, n
            df.loc[m, "potential_region"] = key

    # ---- metro circles ----
    df["metro_circle"] = ""
    df["metro_core"] = 0
    for key, core, members in METRO_APPROVED:
        m = df.name == core
        assert m.sum() == 1, core
        df.loc[m, ["metro_circle", "metro_core"]] = [key, 1]
        for n in members:
            m = df.name == n
            assert m.sum() == 1, n
            if df.loc[m, "metro_circle"].iloc[0] == "":
                df.loc[m, "metro_circle"] = key
    rule_cores = list(METRO_RULE_CORES.items())
    for key, (core, _, _) in rule_cores:
        df.loc[df.name == core, ["metro_circle", "metro_core"]] = [key, 1]
    free = df.metro_circle == ""
    dmat = np.array([haversine_km(lon, lat, df.lon, df.lat) for _, (_, lon, lat) in rule_cores])
    nearest = dmat.argmin(axis=0)
    for j in np.where(free)[0]:
        k = nearest[j]
        if dmat[k, j] <= METRO_RULE_KM:
            df.at[df.index[j], "metro_circle"] = rule_cores[k][0]
    df.attrs["notes"] = notes
    return df, notes


def build_provinces(cities: pd.DataFrame) -> pd.DataFrame:
    rows = []
    upop = cities.groupby("province_code").urban_pop_2020.sum()
    for code, (name, en, region, pop, _share, status, inc) in PROVINCES.items():
        rows.append(dict(province_code=code, name=name, name_en=en, region=region, pop_2020=pop,
                         urban_share_2020=round(official_urban(code) / pop, 6), status=status,
                         income_urban_2020=inc, urban_pop=upop[code]))
    p = pd.DataFrame(rows)
    wmean_inc = np.average(p.income_urban_2020, weights=p.urban_pop)
    raw = (p.income_urban_2020 / NATIONAL_URBAN_INCOME_2020) ** PRICE_INCOME_ELASTICITY
    scale = NATIONAL_RESIDENTIAL_PRICE_2020 / np.average(raw, weights=p.urban_pop)
    p["housing_price_2020"] = (raw * scale).round().astype(int)
    st = {"C": "confirmed in provincial census bulletin/arithmetic",
          "F": "facts.md official value, agrees with complete leiii city sum within 0.3 pp",
          "M": "facts.md memory value (unconfirmed)"}
    p["source"] = p.apply(lambda r: (
        "pop: 7th census bulletin (NBS 2021); urban share: " + st[r.status]
        + "; income: recalled NBS Statistical Yearbook 2021, unverified (L); housing: assumption: "
        "national 2020 average residential price x (income ratio)^2, urban-pop-weighted to 9980"), axis=1)
    p.attrs["income_check"] = wmean_inc
    return p[["province_code", "name", "name_en", "region", "pop_2020", "urban_share_2020",
              "income_urban_2020", "housing_price_2020", "source"]]


def build_history() -> pd.DataFrame:
    rows = []
    for y, (tot, urb, rate, hk, conf) in HISTORY.items():
        mw = MIGRANTS[y]
        b, d = VITAL[y]
        if y <= 2015 or y == 2010:
            src_mw = "MW: recalled NBS 农民工监测调查报告 (unverified, L)"
        elif y <= 2018:
            src_mw = ("MW: NBS 2017年/2018年农民工监测调查报告 as republished (People's Daily Online 2019-04-29; "
                      "report text 2018-04-27); 2016 from the 2017 report's changes on the year")
        else:
            src_mw = "MW: facts.md §1 (NBS monitoring survey reports)"
        if 2011 <= y <= 2019:
            src_pop = ("pop/urban: post-2020-census revised series (China Statistical Yearbook 2021; "
                       "rates per facts.md §2a 'revised' column)")
        elif y == 2010:
            src_pop = "pop/urban: NBS 2010 (facts.md §2a; census 49.68)"
        else:
            src_pop = "pop/urban: NBS communiqué (facts.md §2/§2a)"
        if y == 2020:
            src_pop += "; year-end 2020 (census 1 Nov: 1,411.78M, 63.89%)"
        src = f"{src_pop}; hukou: facts.md §2a/§9; {src_mw}; births/deaths: NBS communiqués (recalled)"
        if y in (2023, 2024):
            src += "; OUT-OF-SAMPLE year: do not fit"
        rows.append(dict(
            year=y, total_pop=tot * 10000, urban_pop=urb * 10000, resident_rate=round(rate / 100, 4),
            hukou_rate=(round(hk / 100, 4) if hk is not None else np.nan),
            migrant_workers=mw[0] * 10000, migrant_local=mw[1] * 10000, migrant_out=mw[2] * 10000,
            migrant_interprov=mw[3] * 10000,
            migrant_in_towns=(mw[4] * 10000 if mw[4] is not None else np.nan),
            births=b * 10000, deaths=d * 10000, confidence=conf, source=src))
    h = pd.DataFrame(rows)
    for c in ["migrant_in_towns"]:
        h[c] = h[c].astype("Int64")
    return h


def siler_q(ages, a1, b1, c, a3, b3):
    x0 = np.asarray(ages, dtype=float)
    x1 = x0 + 1
    H = (a1 / b1) * (np.exp(-b1 * x0) - np.exp(-b1 * x1)) + c + (a3 / b3) * (np.exp(b3 * x1) - np.exp(b3 * x0))
    return 1 - np.exp(-H)


def life_expectancy(q):
    alive_at = np.concatenate([[1.0], np.cumprod(1 - q[:-1])])
    L = alive_at * (1 - q / 2)
    L[-1] = alive_at[-1] / max(-math.log(max(1 - q[-1], 1e-9)), 1e-9)  # open 100+ interval
    return L.sum()


def build_demography(e0_target: dict[str, float],
                     births_target: dict[int, float] = BIRTHS_TARGET) -> tuple[pd.DataFrame, dict]:
    """The age-sex table: 2020 census shares, a Siler mortality schedule with life expectancy ``e0_target``
    by sex, and a fertility schedule scaled to the mean TFR that reproduces ``births_target`` (year -> births)
    on the 2020 census women."""
    info = {}
    shape = np.array(AGE5_SHAPE) * 1e6
    groups = [(0, 3), (3, 12), (12, 13), (13, 21)]
    targets = [CENSUS_0_14, CENSUS_15_59, CENSUS_60P - CENSUS_65P, CENSUS_65P]
    for (a, b), t in zip(groups, targets, strict=True):
        shape[a:b] *= t / shape[a:b].sum()
    # mean-preserving single-year split: monotone PCHIP on the cumulative distribution
    edges = np.arange(0, 105, 5)  # 0,5,...,100
    cum = np.concatenate([[0], np.cumsum(shape[:20])])
    f = PchipInterpolator(edges, cum)
    single = np.diff(f(np.arange(0, 101)))  # ages 0..99
    single = np.append(single, shape[20])  # 100+
    sr = np.array(SEX_RATIO5) / 100
    sr1 = np.append(np.repeat(sr[:20], 5), sr[20])
    male = single * sr1 / (1 + sr1)
    male *= CENSUS_MALE / male.sum()
    female = single - male
    assert (female > 0).all()
    tot = single.sum()
    info["pop_total"] = tot

    ages = np.arange(101)
    q = {}
    for sex in ("male", "female"):
        c, b3 = SILER[sex]["c"], SILER[sex]["b3"]
        b1 = 3.5
        # a1 so that q0 matches; then a3 so that e0 matches (a1 re-solved each time)
        def solve(a3, b1=b1, c=c, b3=b3, sex=sex):
            return brentq(lambda x: siler_q([0], x, b1, c, a3, b3)[0] - Q0_TARGET[sex], 1e-9, 1.0)

        def e0_gap(log_a3, b1=b1, c=c, b3=b3, sex=sex, solve=solve):
            a3 = math.exp(log_a3)
            a1 = solve(a3)
            qq = siler_q(ages, a1, b1, c, a3, b3)
            qq[-1] = 1.0 - math.exp(-(a3 * math.exp(b3 * 100) + c))  # 100+: annual hazard at 100
            return life_expectancy(np.minimum(qq, 1.0)) - e0_target[sex]

        la3 = brentq(e0_gap, math.log(1e-7), math.log(5e-4))
        a3 = math.exp(la3)
        a1 = solve(a3)
        qq = siler_q(ages, a1, b1, c, a3, b3)
        qq[-1] = 1.0 - math.exp(-(a3 * math.exp(b3 * 100) + c))
        q[sex] = np.minimum(qq, 1.0)
        info[f"siler_{sex}"] = dict(a1=a1, b1=b1, c=c, a3=a3, b3=b3, e0=life_expectancy(q[sex]))
    deaths = (male * q["male"]).sum() + (female * q["female"]).sum()
    info["implied_deaths_2020_structure"] = deaths
    info["implied_cdr_per_mille"] = deaths / tot * 1000

    # fertility: gamma-shaped ASFR over 15..49, scaled to the TFR that reproduces the target years' births
    k = ((FERT_MEAN_AGE - 14.5) / FERT_SD) ** 2
    theta = FERT_SD ** 2 / (FERT_MEAN_AGE - 14.5)
    a = np.arange(15, 50) + 0.5 - 14.5
    g = a ** (k - 1) * np.exp(-a / theta)
    g /= g.sum()
    fert = np.zeros(101)
    fert[15:50] = g
    tfrs = {}
    for year, births in births_target.items():
        # The model keeps the ages its people have at the end of a year through the next and ages them each
        # January from its second year on: women aged a in `year` were a - shift at the census (end-2020).
        shift = year - 2021
        w = np.zeros(101)
        w[shift:] = female[: 101 - shift]
        tfrs[year] = births / (fert * w).sum()
    tfr = float(np.mean(list(tfrs.values())))
    info["tfr_by_year"] = tfrs
    info["tfr_used"] = tfr
    fert *= tfr
    dem = pd.DataFrame(dict(
        age=ages, mortality_male=np.round(q["male"], 7), mortality_female=np.round(q["female"], 7),
        fertility=np.round(fert, 6), pop_share_male=male / tot, pop_share_female=female / tot))
    # exact normalisation after rounding
    dem["pop_share_male"] = dem.pop_share_male.round(9)
    dem["pop_share_female"] = dem.pop_share_female.round(9)
    resid = 1.0 - dem.pop_share_male.sum() - dem.pop_share_female.sum()
    dem.loc[dem.age == 30, "pop_share_female"] += resid
    return dem, info


MP_SRC = {
    2019: "NBS 2019 农民工监测调查报告 via Xinhua reprint http://duoerfu888.com/2020/0502/342720.html (facts.md §1)",
    2020: "NBS 2020 report via CNS http://www.syhzkj.cn/guonei/2021/0506/26303.html (facts.md §1)",
    2021: "NBS 2021 report http://news.cpd.com.cn/n18151/202204/t20220429_1027711.html (facts.md §1)",
    2022: ("NBS 2022 report (stats.gov.cn/sj/zxfb/202304/t20230427_1939124.html) mirrored at "
           "https://wxc.luwanzi.com/myblog/29065/202310/12118.html (facts.md §1)"),
    2023: ("NBS 2023 report https://www.chinareport.com.cn/archives/55801 ; http://www.yyjob.cn/07191706.html "
           "(facts.md §1, §8)"),
    2024: ("NBS 2024 report via http://xzqh.info/lt/read.php?tid=190084 ; "
           "https://www.farmer.com.cn/2025/05/01/99986067.html (facts.md §1, §8)"),
}


def _levelled_on_deaths(deaths_of: Callable[[pd.DataFrame, dict], float], deaths: float,
                        births_target: dict[int, float], upper: float) -> tuple[pd.DataFrame, dict]:
    """:func:`build_demography` with both sexes' census life expectancies raised alike (by 0 to ``upper``
    years) until ``deaths_of(table, info)`` equals the published ``deaths``."""
    def table(shift: float) -> tuple[pd.DataFrame, dict]:
        return build_demography({sex: value + shift for sex, value in E0_CENSUS_2020.items()}, births_target)

    shift = brentq(lambda x: deaths_of(*table(x)) - deaths, 0.0, upper, xtol=1e-4)
    dem, info = table(shift)
    info["e0_shift_from_census"] = shift
    info["deaths_reproduced"] = deaths_of(dem, info)
    return dem, info


def build_demography_projection() -> tuple[pd.DataFrame, dict]:
    """The projections' age-sex table (see :data:`DEATHS_2024`): levelled so that the end-2023 population gives
    the deaths of 2024, fertility from the births of 2023-2024."""
    from sim.synthesis import project_age_sex

    history = build_history()
    people_2023 = float(history.loc[history["year"] == 2023, "total_pop"].iloc[0])

    def deaths_2024(dem: pd.DataFrame, info: dict) -> float:
        q = dem.sort_values("age")[["mortality_male", "mortality_female"]].to_numpy()
        return float((project_age_sex(dem, history, 2023) * q).sum() * people_2023)

    return _levelled_on_deaths(deaths_2024, DEATHS_2024, BIRTHS_TARGET, upper=6.0)


def build_demography_2020() -> tuple[pd.DataFrame, dict]:
    """The backtest's age-sex table (see :data:`DEATHS_2020`): levelled so that the census population gives the
    deaths of 2020, fertility from the births of 2021-2022."""
    return _levelled_on_deaths(lambda dem, info: info["implied_deaths_2020_structure"], DEATHS_2020,
                               BIRTHS_TARGET_2020, upper=3.0)


def build_migrant_profile() -> pd.DataFrame:
    R = []

    def add(y, item, value, unit, note=""):
        src = MP_SRC[y] + (f"; {note}" if note else "")
        R.append(dict(year=y, item=item, value=value, unit=unit, source=src))

    for y, v in {2021: 0.641, 2023: 0.627, 2024: 0.624}.items():
        add(y, "share_male", v, "fraction of migrant workers")
    for y, v in {2019: 40.8, 2020: 41.4, 2021: 41.7, 2022: 42.3, 2023: 43.1, 2024: 43.2}.items():
        add(y, "avg_age", v, "years")
    for y, (lo, oo) in {2023: (46.6, 38.9), 2024: (46.8, 39.0)}.items():
        add(y, "avg_age_local", lo, "years")
        add(y, "avg_age_out", oo, "years")
    add(2019, "age_share_gt50", 0.246, "fraction")
    add(2020, "age_share_le40", 0.494, "fraction")
    add(2020, "age_share_41_50", 0.242, "fraction", "derived: 1 - 0.494 - 0.264")
    add(2020, "age_share_gt50", 0.264, "fraction")
    for y, (a, b, c) in {2023: (0.446, 0.248, 0.306), 2024: (0.437, 0.247, 0.316)}.items():
        add(y, "age_share_le40", a, "fraction")
        add(y, "age_share_41_50", b, "fraction")
        add(y, "age_share_gt50", c, "fraction")
    edu = {2020: (1.0, 14.7, 55.4, 16.7, 12.2), 2021: (0.8, 13.7, 56.0, 17.0, 12.6),
           2023: (0.8, 13.8, 52.1, 17.5, 15.8)}
    for y, vals in edu.items():
        for k, v in zip(["edu_none", "edu_primary", "edu_junior", "edu_senior", "edu_college_plus"], vals, strict=True):
            add(y, k, round(v / 100, 4), "fraction")
    totals = {2021: 29251, 2022: 29562, 2023: 29753}
    dest = {2021: (15438, 6571, 6280, 894), 2022: (15447, 6771, 6436, 843), 2023: (15277, 6982, 6552, 872)}
    orig = {2021: (10282, 9726, 8248, 995), 2022: (10403, 9852, 8351, 956), 2023: (10484, 9904, 8367, 998)}
    for y in dest:
        for reg, v in zip(["east", "central", "west", "northeast"], dest[y], strict=True):
            add(y, f"dest_share_{reg}", round(v / totals[y], 4), "fraction of all migrant workers",
                f"computed {v}万/{totals[y]}万; remainder works abroad/unallocated")
        for reg, v in zip(["east", "central", "west", "northeast"], orig[y], strict=True):
            add(y, f"origin_share_{reg}", round(v / totals[y], 4), "fraction of all migrant workers",
                f"computed {v}万/{totals[y]}万")
    for y, v in {2019: 0.431, 2020: 0.416, 2021: 0.415, 2022: 0.411, 2023: 0.382, 2024: 0.383}.items():
        note = {2019: "implied by 2020 report (7,508万 / 17,425万)", 2020: "computed 7,052/16,959",
                2021: "computed 7,130/17,172", 2022: "7,061万 (41.1%)"}.get(y, "")
        add(y, "interprov_share_of_out", v, "fraction of out-migrants", note)
    byorig = {2021: (0.151, 0.566, 0.478, 0.289), 2022: (0.150, 0.556, 0.475, 0.314),
              2023: (0.138, 0.517, 0.445, 0.309), 2024: (0.134, 0.518, 0.446, 0.336)}
    for y, vals in byorig.items():
        for reg, v in zip(["east", "central", "west", "northeast"], vals, strict=True):
            add(y, f"interprov_share_of_out_origin_{reg}", v, "fraction of out-migrants from region")
    inc = {2019: (3962, None, None), 2020: (4072, None, None), 2021: (4432, 5013, 3878),
           2022: (4615, 5240, 4026), 2023: (4780, 5441, 4131), 2024: (4961, 5634, 4291)}
    for y, (a, o, loc) in inc.items():
        add(y, "monthly_income", a, "yuan per month")
        if o:
            add(y, "monthly_income_out", o, "yuan per month")
            add(y, "monthly_income_local", loc, "yuan per month")
    add(2023, "monthly_income_east_dest", 5172, "yuan per month")
    for y, v in {2019: 20.4, 2022: 22.6, 2023: 24.0, 2024: 24.7}.items():
        add(y, "living_space_per_capita", v, "m2 per person (进城农民工)")
    add(2023, "children_primary_public_share", 0.901, "fraction of accompanying primary pupils in public schools")
    add(2023, "children_junior_public_share", 0.910,
        "fraction of accompanying junior-secondary pupils in public schools")
    add(2023, "children_compulsory_in_school", 0.997, "fraction of compulsory-age accompanying children")
    add(2024, "children_compulsory_in_school", 0.998, "fraction of compulsory-age accompanying children")
    for y, v in {2022: 0.911, 2023: 0.909, 2024: 0.945}.items():
        add(y, "kindergarten_enrolment_3_5", v, "fraction of accompanying children aged 3-5",
            "2022 via Xinhua http://byxiaozheng.com/html/71e099920.html" if y == 2022 else "")
    add(2022, "kindergarten_public_or_puhui_share", 0.697, "fraction of enrolled 3-5 y.o.",
        "public or 普惠 kindergartens; Xinhua http://byxiaozheng.com/html/71e099920.html")
    add(2023, "kindergarten_public_share", 0.423, "fraction of enrolled 3-5 y.o.",
        "public 42.3% (+30.6% 普惠民办); Xinhua via ecostnews.com")
    for y, v in {2019: 0.400, 2020: 0.414, 2023: 0.473}.items():
        add(y, "feel_local_share", v, "fraction of 进城农民工")
    add(2023, "married_share", 0.814, "fraction")
    for y, v in {2023: 0.538, 2024: 0.546}.items():
        add(y, "tertiary_sector_share", v, "fraction employed in tertiary sector",
            "2023: http://m.kwik-find.com/20/8587.html" if y == 2023 else "")
    return pd.DataFrame(R).sort_values(["year", "item"]).reset_index(drop=True)


def main():
    census = read_census()
    cities, notes = build_cities(census)
    provinces = build_provinces(cities)
    cols = ["city_code", "name", "province_code", "pop_2020", "urban_pop_2020", "district_pop_2020",
            "district_pop_source", "lon", "lat", "age_0_14", "age_15_59", "age_60p", "household_size_2020",
            "potential_region", "metro_circle", "metro_core"]
    out = cities.sort_values("city_code")[cols].copy()
    out["lon"] = out.lon.round(4)
    out["lat"] = out.lat.round(4)
    for c in ["age_0_14", "age_15_59", "age_60p"]:
        out[c] = out[c].round(4)
    out["household_size_2020"] = out.household_size_2020.round(2)
    out.to_csv(HERE / "cities.csv", index=False)
    provinces.to_csv(HERE / "provinces.csv", index=False)
    build_history().to_csv(HERE / "national_history.csv", index=False)
    dem, info = build_demography_projection()
    dem.to_csv(HERE / "demography.csv", index=False)
    dem_2020, info_2020 = build_demography_2020()
    dem_2020.to_csv(HERE / "demography_2020.csv", index=False)
    info.update({f"backtest {k}": v for k, v in info_2020.items()})
    build_migrant_profile().to_csv(HERE / "migrant_profile.csv", index=False)
    # report for PROVENANCE.md
    print("\n".join(notes))
    print("district ratio", cities.attrs["district_ratio"])
    print("income check (urban-pop-weighted mean)", provinces.attrs.get("income_check"))
    for k, v in info.items():
        print(k, v)
    urb = cities.groupby("province_code").urban_pop_2020.sum()
    for code, p in PROVINCES.items():
        dev = urb[code] / p[3] * 100 - official_urban(code) / p[3] * 100
        src = cities[cities.province_code == code].urban_src.value_counts().to_dict()
        print(code, p[0], f"dev {dev:+.3f} pp", src)
    print(cities[cities.metro_circle != ""].groupby("metro_circle").name.apply(list).to_string())


if __name__ == "__main__":
    main()
