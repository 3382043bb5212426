"""Codes an MRZ may hold as issuing state or nationality (ICAO Doc 9303 part 3, section 5).

ISO 3166-1 alpha-3 (the list of Debian's iso-codes, 249 codes), Germany's one-letter ``D``,
and ICAO's own codes: British nationals of other kinds, UN and EU documents, stateless persons and
refugees, and ``UTO``, the specimen state "Utopia". A reading that puts anything else there was
misread (typically a character dropped and the rest of the line shifted) even when its check digits
hold: the reader's check-digit repair can make a shifted line consistent.
"""

from __future__ import annotations

_ISO_3166 = """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR
BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG
COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH
FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY
HKG HMD HND HRV HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL
MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR
NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU
SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA
TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB
VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
"""
_ICAO = (
    "D GBD GBN GBO GBP GBS UNO UNA UNK EUE XXA XXB XXC XXX XOM XPO XES XMP XDC XBA XIM XCC XCE "
    "XEC RKS ZIM UTO"
)
ISO_3166_ALPHA3 = frozenset(_ISO_3166.split())
ICAO_SPECIAL = frozenset(_ICAO.split())
KNOWN_CODES = ISO_3166_ALPHA3 | ICAO_SPECIAL


def known_code(field: str) -> bool:
    """Is ``field`` (as printed, fillers included) a state code of Doc 9303?"""
    code = field.replace("<", "")
    return not code or code in KNOWN_CODES
