"""The region of a country, for an application that names only its country.

The vendor's regions are four; a manager may correct the region in the admin before deciding.
"""

from partners.models import Region

NORTH_AMERICA = frozenset({"US", "CA", "PM", "BM", "GL"})
LATIN_AMERICA = frozenset(
    [
        "MX",
        "GT",
        "BZ",
        "SV",
        "HN",
        "NI",
        "CR",
        "PA",
        "CU",
        "DO",
        "HT",
        "JM",
        "PR",
        "BS",
        "BB",
        "TT",
        "AG",
        "DM",
        "GD",
        "KN",
        "LC",
        "VC",
        "AW",
        "CW",
        "SX",
        "BQ",
        "KY",
        "TC",
        "VG",
        "VI",
        "AI",
        "MS",
        "GP",
        "MQ",
        "MF",
        "BL",
        "CO",
        "VE",
        "EC",
        "PE",
        "BO",
        "BR",
        "PY",
        "UY",
        "AR",
        "CL",
        "GY",
        "SR",
        "GF",
        "FK",
    ]
)
ASIA_PACIFIC = frozenset(
    [
        "CN",
        "HK",
        "MO",
        "TW",
        "JP",
        "KR",
        "KP",
        "MN",
        "IN",
        "PK",
        "BD",
        "LK",
        "NP",
        "BT",
        "MV",
        "AF",
        "ID",
        "MY",
        "SG",
        "TH",
        "VN",
        "PH",
        "KH",
        "LA",
        "MM",
        "BN",
        "TL",
        "AU",
        "NZ",
        "PG",
        "FJ",
        "SB",
        "VU",
        "NC",
        "PF",
        "WS",
        "TO",
        "KI",
        "TV",
        "NR",
        "FM",
        "MH",
        "PW",
        "CK",
        "NU",
        "TK",
        "WF",
        "AS",
        "GU",
        "MP",
        "KZ",
        "KG",
        "TJ",
        "TM",
        "UZ",
    ]
)


def region_of_country(country: str) -> str:
    """The region code of an ISO 3166 country code: EMEA for every country not listed elsewhere."""
    code = country.upper()
    if code in NORTH_AMERICA:
        return Region.NORTH_AMERICA
    if code in LATIN_AMERICA:
        return Region.LATIN_AMERICA
    if code in ASIA_PACIFIC:
        return Region.APAC
    return Region.EMEA
