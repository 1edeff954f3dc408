"""The sandbox's people: the published API Particulier staging identities, and a deterministic
generated population whose answers agree across the four sources.

Person ``i`` is always the same person, in every process, on every machine: the demo seeds
applicants from ``person(i)`` and the sandbox answers for them. Each person also carries the
*outcome* each source will give, so that the demo and the tests know what to expect.

This module imports nothing from Django or Vigie's models.
"""

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache


# The school year and CVEC campaign the generated population declares (2026-2027).
POPULATION_SCHOOL_YEAR = 2026
POPULATION_SIZE = 100_000
# The staging `recipient` (SIRET) used in API Particulier's public examples.
STAGING_RECIPIENT = "13002526500013"
_UAI_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"
_NAMESPACE = uuid.UUID("6f1c1b52-3d0e-4d8e-9d55-5a8f0f7c2a10")


class ScolariteOutcome(StrEnum):
    ENROLLED = "enrolled"  # 200, est_scolarise true, declared establishment and year
    NOT_ENROLLED = "not_enrolled"  # 200, est_scolarise false (statut NS)
    UNKNOWN = "unknown"  # 404 30003
    PROVIDER_ERROR = "provider_error"  # 502 30999, every time


class CvecOutcome(StrEnum):
    VALID = "valid"  # 200, etat.code in {70, 71, 73, 75, 76, 98}
    INVALID = "invalid"  # 200, another etat.code
    HOLDER_MISMATCH = "holder_mismatch"  # 200, valid, but the holder's birth date differs
    UNKNOWN = "unknown"  # 400 "L'attestation n'a pas été trouvée."


class CertificationOutcome(StrEnum):
    ACTIVE = "active"  # exists, active, at or above the declared level
    BELOW_LEVEL = "below_level"  # exists, active, below the declared minimum level
    ARCHIVED = "archived"  # exists, archived, at or above the level: confirmed with a caveat
    UNKNOWN = "unknown"  # not in Certif Info


class CovoiturageOutcome(StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # 404


@dataclass(frozen=True)
class Certification:
    certifinfo_id: int
    rncp: str
    rs: str
    title: str
    level: int  # European level, 1..8
    archived: bool
    # The end of registration Certif Info gives in ``rncp_historique`` (archived RNCP fiches
    # only here; the RS one has none, so the demo shows both caveats).
    registration_ended: date | None = None


# A small catalogue, in the spirit of Certif Info's (codes are invented, shapes are not).
CERTIFICATIONS: tuple[Certification, ...] = (
    Certification(90001, "RNCP35185", "", "BTS Services informatiques aux organisations", 5, False),
    Certification(90002, "RNCP34031", "", "Licence professionnelle Métiers du numérique", 6, False),
    Certification(
        90003, "RNCP37873", "", "Bachelor universitaire de technologie Informatique", 6, False
    ),
    Certification(90004, "RNCP36061", "", "Master Droit public", 7, False),
    Certification(90005, "RNCP32112", "", "CAP Pâtissier", 3, False),
    Certification(90006, "RNCP35503", "", "Baccalauréat professionnel Commerce", 4, False),
    Certification(
        90007, "RNCP34825", "", "Titre professionnel Développeur web et web mobile", 5, False
    ),
    Certification(90008, "RNCP31678", "", "Diplôme d'État d'infirmier", 6, False),
    Certification(
        90009,
        "RNCP24424",
        "",
        "BTS Assistant de manager (ancien référentiel)",
        5,
        True,
        date(2019, 12, 31),
    ),
    Certification(
        90010,
        "RNCP16234",
        "",
        "Licence Administration économique et sociale (2014)",
        6,
        True,
        date(2018, 8, 31),
    ),
    Certification(90011, "", "RS5487", "Certification Voltaire", 3, False),
    Certification(90012, "", "RS6188", "TOEIC Listening and Reading", 4, False),
    Certification(90013, "", "RS2210", "Habilitation électrique (ancienne fiche)", 3, True),
    Certification(90014, "RNCP38590", "", "Diplôme d'ingénieur Informatique et réseaux", 7, False),
    Certification(90015, "RNCP37195", "", "BTS Gestion de la PME", 5, False),
    Certification(90016, "RNCP36004", "", "Baccalauréat technologique STMG", 4, False),
)
UNKNOWN_CERTIFICATION_CODES = ("RNCP99901", "RNCP99902", "RS99903")

_SURNAMES = (
    "MARTIN",
    "BERNARD",
    "THOMAS",
    "PETIT",
    "ROBERT",
    "RICHARD",
    "DURAND",
    "DUBOIS",
    "MOREAU",
    "LAURENT",
    "SIMON",
    "MICHEL",
    "LEFÈVRE",
    "LEROY",
    "ROUX",
    "DAVID",
    "BERTRAND",
    "MOREL",
    "FOURNIER",
    "GIRARD",
    "BONNET",
    "DUPONT",
    "LAMBERT",
    "FONTAINE",
    "ROUSSEAU",
    "VINCENT",
    "MÜLLER",
    "LE GALL",
    "N'DIAYE",
    "DA SILVA",
    "BENALI",
    "NGUYEN",
    "CHEVALIER",
    "GARCIA",
    "FAURE",
    "ANDRÉ",
    "MERCIER",
    "BLANC",
    "GUÉRIN",
    "BOYER",
    "GARNIER",
    "CHAUVIN",
    "PERRIN",
    "MOULIN",
    "HAMIDI",
    "DIALLO",
    "TRAORÉ",
    "LÉVÊQUE",
    "SAINT-MARTIN",
    "O'NEILL",
    "COHEN",
    "KOWALSKI",
    "FERREIRA",
    "YILMAZ",
    "MAILLARD",
    "RENAUD",
    "BARBIER",
    "ARNAUD",
    "GAUTHIER",
)
_FIRST_NAMES_F = (
    "EMMA",
    "JADE",
    "LOUISE",
    "ALICE",
    "CHLOÉ",
    "LINA",
    "LÉA",
    "ROSE",
    "ANNA",
    "MILA",
    "INÈS",
    "AMBRE",
    "JULIA",
    "MIA",
    "LÉNA",
    "MANON",
    "ZOÉ",
    "AGATHE",
    "LOU",
    "CAMILLE",
    "SARAH",
    "NOUR",
    "YASMINE",
    "MARIE-ANNE",
    "ÈVE",
    "CLARA",
    "ÉLISE",
    "JUSTINE",
    "HIND",
    "AÏCHA",
)
_FIRST_NAMES_M = (
    "GABRIEL",
    "LÉO",
    "RAPHAËL",
    "LOUIS",
    "ARTHUR",
    "JULES",
    "MAËL",
    "ADAM",
    "LUCAS",
    "HUGO",
    "NOAH",
    "SACHA",
    "NATHAN",
    "ÉTHAN",
    "TOM",
    "PAUL",
    "AMINE",
    "MATEO",
    "YANIS",
    "ISAAC",
    "JEAN-BAPTISTE",
    "THÉO",
    "MOHAMED",
    "ENZO",
    "MARC-ANTOINE",
    "FÉLIX",
    "SAMUEL",
    "NOÉ",
    "KARIM",
    "MAXIME",
)
_CVEC_STATES_VALID = ("75", "75", "75", "71", "73", "76", "70", "98")
_CVEC_STATES_INVALID = ("10", "20", "60")
_CROUS = (
    "Crous de Lyon",
    "Crous de Paris",
    "Crous Aix-Marseille Avignon",
    "Crous de Lille Nord-Pas de Calais",
    "Crous de Bordeaux-Aquitaine",
    "Crous de Rennes-Bretagne",
    "Crous de Toulouse-Occitanie",
)


def uai_check_letter(digits: str) -> str:
    return _UAI_ALPHABET[int(digits) % 23]


def _make_uai(n: int) -> str:
    digits = f"{n:07d}"
    return digits + uai_check_letter(digits)


# Secondary schools of the generated population: 7 digits built from a département and a
# number, with their real check letter.
ESTABLISHMENTS: tuple[str, ...] = tuple(
    _make_uai(int(f"{dept:03d}{num:04d}"))
    for dept in (13, 21, 33, 59, 69, 75, 89, 92, 93, 95)
    for num in (1, 15, 39, 112, 2733, 3012)
)


def _unit(i: int, salt: str) -> float:
    """A deterministic number in [0, 1) for person ``i`` and a purpose."""
    digest = hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _pick(i: int, salt: str, options: tuple) -> object:
    return options[int(_unit(i, salt) * len(options))]


def _band[T](i: int, salt: str, bands: tuple[tuple[float, T], ...]) -> T:
    """The outcome whose cumulative share covers this person's number."""
    u = _unit(i, salt)
    total = 0.0
    for share, outcome in bands:
        total += share
        if u < total:
            return outcome
    return bands[-1][1]


def _letters(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 26)
        out.append(chr(ord("A") + r))
    return "".join(reversed(out))


@dataclass(frozen=True)
class Person:
    index: int
    birth_name: str
    usage_name: str
    first_names: tuple[str, ...]
    sex: str  # "F" or "M"
    birth_date: date
    ine: str
    # Scolarité: what the applicant declares, and what API Particulier will answer.
    uai: str
    school_year: int
    scolarite: ScolariteOutcome
    # CVEC: the attestation, and what the CNOUS will answer.
    cvec_code: str
    cvec_campaign: int
    cvec: CvecOutcome
    cvec_state: str
    cvec_holder_birth_date: date  # differs from birth_date when HOLDER_MISMATCH
    crous: str
    # Certification: the declared code and required level; Certif Info's answer follows from
    # the catalogue.
    certification_code: str
    certification_min_level: int
    certification: CertificationOutcome
    # Covoiturage.
    covoiturage_uuid: str
    covoiturage: CovoiturageOutcome

    @property
    def file_reference(self) -> str:
        return f"SBX-{self.index:06d}"


def _certification_for(i: int) -> tuple[str, int, CertificationOutcome]:
    outcome = _band(
        i,
        "certification",
        (
            (0.80, CertificationOutcome.ACTIVE),
            (0.07, CertificationOutcome.BELOW_LEVEL),
            (0.06, CertificationOutcome.ARCHIVED),
            (0.07, CertificationOutcome.UNKNOWN),
        ),
    )
    active = [c for c in CERTIFICATIONS if not c.archived]
    archived = [c for c in CERTIFICATIONS if c.archived]
    if outcome == CertificationOutcome.UNKNOWN:
        return str(_pick(i, "cert-code", UNKNOWN_CERTIFICATION_CODES)), 0, outcome
    pool = archived if outcome == CertificationOutcome.ARCHIVED else active
    cert = pool[int(_unit(i, "cert-pick") * len(pool))]
    code = cert.rncp or cert.rs
    if outcome == CertificationOutcome.BELOW_LEVEL:
        if cert.level >= 8:
            cert = min(active, key=lambda c: c.level)
            code = cert.rncp or cert.rs
        return code, cert.level + 1, outcome
    return code, max(1, cert.level - int(_unit(i, "cert-level") * 2)), outcome


def _sex_of(i: int) -> str:
    return "F" if _unit(i, "sex") < 0.5 else "M"


def _first_name_of(i: int, k: int, sex: str) -> str:
    """Given name number ``k`` drawn for person ``i`` (before removing duplicates)."""
    return str(_pick(i, f"first-{k}", _FIRST_NAMES_F if sex == "F" else _FIRST_NAMES_M))


def _birth_name_of(i: int) -> str:
    return str(_pick(i, "surname", _SURNAMES))


def _birth_date_of(i: int) -> date:
    return date(2005, 1, 1) + timedelta(days=int(_unit(i, "birth") * 365 * 4))


def _uai_of(i: int) -> str:
    return str(_pick(i, "uai", ESTABLISHMENTS))


def _covoiturage_of(i: int) -> tuple[CovoiturageOutcome, str]:
    """The covoiturage outcome of person ``i`` and the UUID of their attestation."""
    outcome = _band(
        i,
        "covoiturage",
        (
            (0.82, CovoiturageOutcome.OK),
            (0.10, CovoiturageOutcome.EXPIRED),
            (0.08, CovoiturageOutcome.UNKNOWN),
        ),
    )
    return outcome, _uuid5(f"covoiturage:{i}:{outcome}")


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_NAMESPACE, name))``, without building UUID objects: the sandbox
    computes 100,000 of them at start-up."""
    digest = bytearray(hashlib.sha1(_NAMESPACE.bytes + name.encode()).digest()[:16])  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def scolarite_key_of(i: int) -> tuple[str, str, str, date, str, int]:
    """What API Particulier matches person ``i`` on, computed without building the whole
    person (five hashes instead of twenty): folded birth name, folded first given name, sex,
    birth date, UAI, first year of the school year."""
    sex = _sex_of(i)
    return (
        _fold_cached(_birth_name_of(i)),
        _fold_cached(_first_name_of(i, 0, sex)),
        sex,
        _birth_date_of(i),
        _uai_of(i),
        POPULATION_SCHOOL_YEAR,
    )


def covoiturage_uuid_of(i: int) -> str:
    """The UUID of person ``i``'s covoiturage attestation (cheap: two hashes)."""
    return _covoiturage_of(i)[1]


@cache
def person(i: int) -> Person:
    """Person number ``i`` of the generated population (0 <= i < POPULATION_SIZE)."""
    if not 0 <= i < POPULATION_SIZE:
        raise IndexError(i)
    sex = _sex_of(i)
    n_first = 1 + (_unit(i, "n-first") > 0.6) + (_unit(i, "n-first") > 0.92)
    first_names = []
    for k in range(n_first):
        name = _first_name_of(i, k, sex)
        if name not in first_names:
            first_names.append(name)
    birth_name = _birth_name_of(i)
    usage_name = str(_pick(i, "usage", _SURNAMES)) if _unit(i, "has-usage") < 0.08 else ""
    birth_date = _birth_date_of(i)
    scolarite = _band(
        i,
        "scolarite",
        (
            (0.85, ScolariteOutcome.ENROLLED),
            (0.06, ScolariteOutcome.NOT_ENROLLED),
            (0.07, ScolariteOutcome.UNKNOWN),
            (0.02, ScolariteOutcome.PROVIDER_ERROR),
        ),
    )
    cvec = _band(
        i,
        "cvec",
        (
            (0.84, CvecOutcome.VALID),
            (0.05, CvecOutcome.INVALID),
            (0.04, CvecOutcome.HOLDER_MISMATCH),
            (0.07, CvecOutcome.UNKNOWN),
        ),
    )
    cvec_state = str(
        _pick(
            i,
            "cvec-state",
            _CVEC_STATES_INVALID if cvec == CvecOutcome.INVALID else _CVEC_STATES_VALID,
        )
    )
    holder_birth = (
        birth_date + timedelta(days=397) if cvec == CvecOutcome.HOLDER_MISMATCH else birth_date
    )
    covoiturage, covoiturage_uuid = _covoiturage_of(i)
    cert_code, cert_level, cert_outcome = _certification_for(i)
    return Person(
        index=i,
        birth_name=birth_name,
        usage_name=usage_name,
        first_names=tuple(first_names),
        sex=sex,
        birth_date=birth_date,
        ine=f"{i:09d}V{_letters(i, 1)}",
        uai=_uai_of(i),
        school_year=POPULATION_SCHOOL_YEAR,
        scolarite=scolarite,
        cvec_code=f"VER1{_letters(i, 6)}{i % 97:02d}SB",
        cvec_campaign=POPULATION_SCHOOL_YEAR,
        cvec=cvec,
        cvec_state=cvec_state,
        cvec_holder_birth_date=holder_birth,
        crous=str(_pick(i, "crous", _CROUS)),
        certification_code=cert_code,
        certification_min_level=cert_level,
        certification=cert_outcome,
        covoiturage_uuid=covoiturage_uuid,
        covoiturage=covoiturage,
    )


def fold(text: str) -> str:
    """Upper case, accents removed, apostrophes/hyphens/spaces collapsed: how the sandbox
    matches names (the real services' tolerance is not documented; see the scenario notes)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.upper().replace("'", " ").replace("’", " ").replace("-", " ").split())


@cache
def _fold_cached(name: str) -> str:
    """``fold`` for the few names of the generated population's pools."""
    return fold(name)


def cvec_name_key(birth_name: str) -> str:
    """The CVEC `etudiant` parameter: first five letters A–Z of the birth name, or "-"."""
    letters = "".join(c for c in fold(birth_name) if "A" <= c <= "Z")
    return letters[:5] or "-"


@dataclass(frozen=True)
class StagingPupil:
    """An identity published in API Particulier's staging data (docs/api/api-particulier.md
    §Staging identities)."""

    birth_name: str
    first_names: tuple[str, ...]
    sex: str
    birth_date: date
    uai: str
    school_year: int
    status: int  # the HTTP status staging answers
    title: str


STAGING_PUPILS: tuple[StagingPupil, ...] = (
    StagingPupil(
        "Martin",
        ("Justine",),
        "F",
        date(2000, 1, 20),
        "0890003V",
        2022,
        200,
        "Élève boursier échelon 1, scolaire",
    ),
    StagingPupil(
        "Martin", ("Jerome",), "M", date(2000, 1, 20), "0890003V", 2022, 404, "Aucun élève trouvé"
    ),
    StagingPupil(
        "BENALI",
        ("AMINE",),
        "M",
        date(2015, 12, 11),
        "0132634T",
        2025,
        200,
        "Élève boursier échelon 1",
    ),
    StagingPupil(
        "MARTIN",
        ("EMMA",),
        "F",
        date(2012, 8, 15),
        "0132733A",
        2025,
        200,
        "Élève boursier échelon 1 (exemple v4)",
    ),
    StagingPupil(
        "ROBERT", ("CLARA",), "F", date(2005, 9, 21), "0130039X", 2025, 200, "Élève non boursier"
    ),
    StagingPupil(
        "FERRAND",
        ("ELISE",),
        "F",
        date(2004, 9, 27),
        "0130001F",
        2025,
        200,
        "Non scolarisée (statut NS)",
    ),
    StagingPupil(
        "Dupont",
        ("Nouhe",),
        "M",
        date(2007, 12, 9),
        "0921236U",
        2025,
        200,
        "Collégien boursier échelon 1, 3EME GENERALE",
    ),
    StagingPupil(
        "Dupré",
        ("Hind",),
        "F",
        date(2000, 12, 8),
        "0782567S",
        2025,
        200,
        "Lycéenne boursière échelon 6",
    ),
    StagingPupil(
        "Garcia",
        ("Mateo",),
        "M",
        date(2012, 3, 7),
        "0130032P",
        2025,
        200,
        "Boursier sans échelon, année 2024-2025",
    ),
    StagingPupil(
        "Caravelle",
        ("Marc-Antoine",),
        "M",
        date(2002, 4, 15),
        "0782567S",
        2025,
        200,
        "Non boursier",
    ),
    StagingPupil(
        "Ronaldo",
        ("Marie Davida",),
        "F",
        date(2001, 5, 16),
        "0782567S",
        2025,
        200,
        "Non boursière, prénom composé avec une espace",
    ),
    StagingPupil(
        "Faure",
        ("Felix",),
        "M",
        date(2000, 1, 20),
        "0890003V",
        2022,
        504,
        "Fournisseur hors délai (30002)",
    ),
)
