"""Fixed reference tables behind the demo store: catalogue, Brazilian states and cities, Olist facts.

Everything here is hand-written for clvlens (approximate public facts such as state population shares and
capital coordinates); nothing is copied from the Olist data.
"""

from __future__ import annotations

from typing import Final

# Olist English category -> (Portuguese Olist name, [(base item name, base list price in BRL), ...]).
CATEGORIES: Final[dict[str, tuple[str, list[tuple[str, float]]]]] = {
    "bed_bath_table": ("cama_mesa_banho", [
        ("Cotton Bath Towel Set", 89.90), ("Bath Mat", 34.90), ("Queen Duvet Cover", 159.90),
        ("Percale Sheet Set", 129.90), ("Feather Pillow", 59.90), ("Linen Tablecloth", 79.90),
        ("Blackout Curtain", 119.90), ("Microfiber Blanket", 99.90), ("Shower Curtain", 44.90),
        ("Kitchen Towel Pack", 29.90),
    ]),
    "health_beauty": ("beleza_saude", [
        ("Vitamin C Serum", 69.90), ("Argan Oil Shampoo", 39.90), ("Hair Dryer", 189.90),
        ("Facial Sunscreen SPF50", 54.90), ("Electric Toothbrush", 149.90), ("Makeup Brush Kit", 49.90),
        ("Eau de Parfum 100ml", 249.90), ("Body Lotion", 29.90), ("Digital Thermometer", 24.90),
        ("Hair Straightener", 169.90),
    ]),
    "sports_leisure": ("esporte_lazer", [
        ("Yoga Mat", 79.90), ("Resistance Bands", 39.90), ("Adjustable Dumbbell", 299.90),
        ("Running Shoes", 279.90), ("Football", 89.90), ("Camping Tent 4p", 449.90),
        ("Insulated Water Bottle", 59.90), ("Cycling Helmet", 159.90), ("Jump Rope", 24.90),
        ("Swimming Goggles", 34.90),
    ]),
    "furniture_decor": ("moveis_decoracao", [
        ("Office Chair", 599.90), ("Bookshelf", 349.90), ("Wall Mirror", 189.90),
        ("Decorative Cushion", 49.90), ("Floor Lamp", 229.90), ("Coffee Table", 399.90),
        ("Picture Frame Set", 69.90), ("Artificial Plant", 59.90), ("Wall Clock", 79.90),
        ("Shoe Rack", 129.90),
    ]),
    "computers_accessories": ("informatica_acessorios", [
        ("Wireless Mouse", 69.90), ("Mouse Pad", 24.90), ("Mechanical Keyboard", 299.90),
        ("27in Monitor", 1299.90), ("USB-C Hub", 119.90), ("Laptop Stand", 99.90),
        ("External SSD 1TB", 549.90), ("HD Webcam", 199.90), ("Laptop Backpack", 159.90),
        ("HDMI Cable 2m", 29.90),
    ]),
    "housewares": ("utilidades_domesticas", [
        ("Espresso Coffee Maker", 349.90), ("Ceramic Mug Set", 59.90), ("Nonstick Frying Pan", 129.90),
        ("Glass Food Containers", 89.90), ("Stainless Cutlery Set", 149.90), ("Electric Kettle", 119.90),
        ("Knife Block Set", 199.90), ("Dish Rack", 69.90), ("Vacuum Bottle", 74.90),
        ("Silicone Spatula Set", 34.90),
    ]),
    "watches_gifts": ("relogios_presentes", [
        ("Analog Steel Watch", 399.90), ("Smartwatch", 699.90), ("Leather Wallet", 119.90),
        ("Sunglasses", 189.90), ("Gift Box Chocolates", 79.90), ("Silver Bracelet", 149.90),
        ("Digital Sports Watch", 229.90), ("Keychain", 24.90), ("Watch Strap", 49.90),
        ("Jewelry Box", 99.90),
    ]),
    "telephony": ("telefonia", [
        ("Smartphone Case", 39.90), ("Tempered Glass Screen Protector", 24.90),
        ("Bluetooth Earbuds", 199.90), ("Fast Charger 20W", 89.90), ("Power Bank 10000mAh", 129.90),
        ("Car Phone Mount", 44.90), ("USB-C Cable", 29.90), ("Entry Smartphone", 999.90),
        ("Selfie Stick", 49.90), ("Phone Tripod", 69.90),
    ]),
    "garden_tools": ("ferramentas_jardim", [
        ("Garden Hose 20m", 119.90), ("Pruning Shears", 59.90), ("Cordless Drill", 349.90),
        ("Lawn Mower", 899.90), ("Watering Can", 39.90), ("Tool Box", 149.90),
        ("Garden Gloves", 24.90), ("Plant Pot Set", 69.90), ("Leaf Rake", 44.90),
        ("Screwdriver Set", 79.90),
    ]),
    "auto": ("automotivo", [
        ("Car Seat Cover", 149.90), ("Dash Cam", 299.90), ("Tire Inflator", 199.90),
        ("Car Vacuum Cleaner", 159.90), ("Floor Mats", 119.90), ("Steering Wheel Cover", 49.90),
        ("Car Wax", 39.90), ("Jump Starter", 449.90), ("Air Freshener Pack", 24.90),
        ("Roof Rack Bars", 399.90),
    ]),
    "toys": ("brinquedos", [
        ("Building Blocks 500pc", 179.90), ("Plush Bear", 69.90), ("Remote Control Car", 229.90),
        ("Board Game", 119.90), ("Puzzle 1000pc", 59.90), ("Doll House", 349.90),
        ("Toy Kitchen Set", 149.90), ("Water Gun", 39.90), ("Kids Scooter", 279.90),
        ("Crayons Box", 24.90),
    ]),
    "cool_stuff": ("cool_stuff", [
        ("LED Strip Lights", 89.90), ("Retro Game Console", 399.90), ("Star Projector", 129.90),
        ("Mini Drone", 499.90), ("Bluetooth Speaker", 219.90), ("Instant Camera", 599.90),
        ("Levitating Plant Pot", 349.90), ("Novelty Mug", 44.90), ("Lava Lamp", 149.90),
        ("Fidget Cube", 24.90),
    ]),
}

# Variant prefixes and their price multipliers; the first seven bases of each category get one variant.
VARIANTS: Final[tuple[tuple[str, float], ...]] = (("Premium", 1.7), ("Compact", 0.8), ("Deluxe", 2.1))
N_VARIANTS_PER_CATEGORY: Final[int] = 7

# (item A, item B): if A is in a basket, B is added with high probability.
PLANTED_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    ("Cotton Bath Towel Set", "Bath Mat"),
    ("Smartphone Case", "Tempered Glass Screen Protector"),
    ("Wireless Mouse", "Mouse Pad"),
    ("Yoga Mat", "Resistance Bands"),
)

# State -> share of customers (approximate population-of-buyers shares for Brazilian e-commerce).
STATE_SHARES: Final[dict[str, float]] = {
    "SP": 0.420, "RJ": 0.129, "MG": 0.117, "RS": 0.055, "PR": 0.051, "SC": 0.037, "BA": 0.034,
    "DF": 0.022, "ES": 0.020, "GO": 0.020, "PE": 0.017, "CE": 0.013, "PA": 0.010, "MT": 0.009,
    "MA": 0.0075, "MS": 0.0072, "PB": 0.0054, "PI": 0.0050, "RN": 0.0049, "AL": 0.0041,
    "SE": 0.0035, "TO": 0.0028, "RO": 0.0025, "AM": 0.0015, "AC": 0.0008, "AP": 0.0007, "RR": 0.0005,
}

# State -> cities as (city, first zip prefix, last zip prefix, latitude, longitude, weight).
CITIES: Final[dict[str, list[tuple[str, int, int, float, float, float]]]] = {
    "SP": [("sao paulo", 1000, 5999, -23.55, -46.63, 0.55), ("campinas", 13000, 13149, -22.91, -47.06, 0.12),
           ("santos", 11000, 11099, -23.96, -46.33, 0.07), ("sao jose dos campos", 12200, 12249, -23.19,
           -45.88, 0.07), ("ribeirao preto", 14000, 14109, -21.18, -47.81, 0.07), ("sorocaba", 18000,
           18109, -23.50, -47.46, 0.06), ("guarulhos", 7000, 7399, -23.46, -46.53, 0.06)],
    "RJ": [("rio de janeiro", 20000, 23799, -22.91, -43.17, 0.70), ("niteroi", 24000, 24399, -22.88,
           -43.10, 0.15), ("petropolis", 25600, 25799, -22.51, -43.18, 0.15)],
    "MG": [("belo horizonte", 30000, 31999, -19.92, -43.94, 0.55), ("uberlandia", 38400, 38419, -18.92,
           -48.28, 0.2), ("juiz de fora", 36000, 36099, -21.76, -43.35, 0.25)],
    "RS": [("porto alegre", 90000, 91999, -30.03, -51.23, 0.7), ("caxias do sul", 95000, 95129, -29.17,
           -51.18, 0.3)],
    "PR": [("curitiba", 80000, 82999, -25.43, -49.27, 0.7), ("londrina", 86000, 86099, -23.31, -51.16, 0.3)],
    "SC": [("florianopolis", 88000, 88099, -27.60, -48.55, 0.5), ("joinville", 89200, 89239, -26.30,
           -48.85, 0.5)],
    "BA": [("salvador", 40000, 42599, -12.97, -38.50, 1.0)],
    "DF": [("brasilia", 70000, 72799, -15.79, -47.88, 1.0)],
    "ES": [("vitoria", 29000, 29099, -20.32, -40.34, 1.0)],
    "GO": [("goiania", 74000, 74899, -16.69, -49.26, 1.0)],
    "PE": [("recife", 50000, 52999, -8.05, -34.88, 1.0)],
    "CE": [("fortaleza", 60000, 61599, -3.73, -38.53, 1.0)],
    "PA": [("belem", 66000, 66999, -1.46, -48.49, 1.0)],
    "MT": [("cuiaba", 78000, 78109, -15.60, -56.10, 1.0)],
    "MA": [("sao luis", 65000, 65109, -2.53, -44.30, 1.0)],
    "MS": [("campo grande", 79000, 79129, -20.47, -54.62, 1.0)],
    "PB": [("joao pessoa", 58000, 58099, -7.12, -34.86, 1.0)],
    "PI": [("teresina", 64000, 64099, -5.09, -42.80, 1.0)],
    "RN": [("natal", 59000, 59159, -5.79, -35.21, 1.0)],
    "AL": [("maceio", 57000, 57099, -9.67, -35.74, 1.0)],
    "SE": [("aracaju", 49000, 49099, -10.91, -37.07, 1.0)],
    "TO": [("palmas", 77000, 77299, -10.18, -48.33, 1.0)],
    "RO": [("porto velho", 76800, 76849, -8.76, -63.90, 1.0)],
    "AM": [("manaus", 69000, 69099, -3.12, -60.02, 1.0)],
    "AC": [("rio branco", 69900, 69924, -9.97, -67.81, 1.0)],
    "AP": [("macapa", 68900, 68914, 0.03, -51.07, 1.0)],
    "RR": [("boa vista", 69300, 69339, 2.82, -60.67, 1.0)],
}

CHANNELS: Final[tuple[str, ...]] = ("web", "app", "marketplace")
CHANNEL_SHARES: Final[tuple[float, ...]] = (0.5, 0.32, 0.18)

# Share of orders by hour of day (0..23): quiet nights, busy late mornings and evenings.
HOUR_WEIGHTS: Final[tuple[float, ...]] = (
    1.6, 0.8, 0.4, 0.25, 0.2, 0.3, 0.8, 1.8, 3.2, 4.6, 5.6, 5.9,
    5.6, 5.8, 6.0, 5.9, 5.8, 5.6, 5.3, 5.4, 5.9, 6.0, 5.4, 3.6,
)

# Month-of-year multipliers on acquisitions (Black Friday in November, Christmas in December).
MONTH_SEASONALITY: Final[tuple[float, ...]] = (0.95, 0.9, 1.0, 0.95, 1.0, 0.95, 1.0, 1.0, 0.95, 1.0, 1.45, 1.25)

# Olist-like acquisition shape: relative new customers per month from 2016-09 to 2018-10.
OLIST_MONTH_WEIGHTS: Final[tuple[float, ...]] = (
    0.05, 3.0, 0.02, 0.05,                                               # 2016-09 .. 2016-12
    8.0, 17.0, 26.0, 23.0, 36.0, 31.0, 39.0, 42.0, 43.0, 46.0, 75.0, 56.0,   # 2017
    70.0, 65.0, 70.0, 67.0, 66.0, 61.0, 62.0, 64.0, 0.2, 0.05,              # 2018-01 .. 2018-10
)

# Olist order statuses other than "delivered", with relative frequencies.
OLIST_UNDELIVERED_STATUSES: Final[dict[str, float]] = {
    "shipped": 0.37, "canceled": 0.21, "unavailable": 0.20, "invoiced": 0.105, "processing": 0.10,
    "created": 0.01, "approved": 0.005,
}

PAYMENT_TYPES: Final[dict[str, float]] = {"credit_card": 0.74, "boleto": 0.195, "voucher": 0.05,
                                          "debit_card": 0.015}

REVIEW_SCORES: Final[dict[int, float]] = {5: 0.575, 4: 0.19, 3: 0.083, 2: 0.032, 1: 0.12}

REVIEW_COMMENTS: Final[dict[int, tuple[str, ...]]] = {
    5: ("Produto excelente, chegou antes do prazo.", "Recomendo, muito bom!", "Tudo certo, obrigado."),
    4: ("Bom produto, entrega dentro do prazo.", "Gostei, mas a embalagem veio amassada."),
    3: ("Produto ok, esperava um pouco mais.", "Demorou a chegar."),
    2: ("Qualidade abaixo do esperado.", "Veio diferente do anunciado."),
    1: ("Nao recebi o produto.", "Produto com defeito, quero devolver.", "Pessimo, nao recomendo."),
}
REVIEW_TITLES: Final[dict[int, tuple[str, ...]]] = {
    5: ("Otimo", "Recomendo"), 4: ("Bom",), 3: ("Regular",), 2: ("Ruim",), 1: ("Pessimo", "Nao recebi"),
}
