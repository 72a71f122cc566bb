"""The named personas of the demo brand. Their logins are fixed, printed when the demo starts and
reused by the tests (tests/conftest.py), so a test reads like the business: "Lin at HQ", "Zhou the
region manager", "Wang who manages the store", "Chen and Liu, two guides of that store"."""

from __future__ import annotations

from dataclasses import dataclass

DEMO_PASSWORD = "siyu-demo-2026"
BRAND_CODE = "feiyue"  # 飞跃运动, a fictional sportswear brand
BRAND_NAME = "飞跃运动 Feiyue Sports"


@dataclass(frozen=True)
class Persona:
    key: str
    username: str
    phone: str
    name: str
    role: str
    what: str


HQ_ADMIN = Persona("hq_admin", "admin", "13900000001", "赵总", "hq_admin", "HQ admin: everything, incl. audit")
HQ_OPERATOR = Persona("hq_operator", "lin.hq", "13900000002", "林悦", "hq_operator", "HQ operations officer")
REGION_MANAGER = Persona(
    "region_manager", "zhou.east", "13900000003", "周强", "region_manager", "East China branch manager"
)
STORE_MANAGER = Persona(
    "store_manager", "wang.store", "13900000004", "王芳", "store_manager", "manager of the flagship store"
)
GUIDE_A = Persona("guide_a", "chen.guide", "13900000005", "陈静", "guide", "guide in the flagship store")
GUIDE_B = Persona("guide_b", "liu.guide", "13900000006", "刘洋", "guide", "another guide of the same store")
CUSTOMER_PHONE = "13800138000"  # the demo customer, bound to guide A
CUSTOMER_NAME = "张小雨"

STAFF_PERSONAS = (HQ_ADMIN, HQ_OPERATOR, REGION_MANAGER, STORE_MANAGER, GUIDE_A, GUIDE_B)
FLAGSHIP_STORE_CODE = "SH001"
EAST_REGION_CODE = "EAST"
