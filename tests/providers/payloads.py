"""Answers of the four APIs, verbatim from ``docs/api/`` where it quotes them (section given),
constructed from the documented schema where it does not (said so).

Tests take copies (``copy.deepcopy``) before changing anything.
"""

# --- API Particulier, statut élève scolarisé (docs/api/api-particulier.md) -------------------

# docs/api/api-particulier.md §Responses, "Verbatim v4 staging 200" (200_eleve_boursier.yaml).
SCOLARITE_V4_200 = {
    "data": {
        "identite": {
            "nom": "MARTIN",
            "prenom": "EMMA",
            "sexe": "F",
            "date_naissance": "2012-08-15",
        },
        "module_elementaire_formation": {
            "code_mef_stat": "211324099991",
            "libelle": "1CAP1 STAFFEUR ORNEMANISTE",
        },
        "annee_scolaire": "2025-2026",
        "est_scolarise": True,
        "statut_eleve": {"code": "ST", "libelle": "Scolaire"},
        "etablissement": {
            "code_uai": "0132733A",
            "nom": "Lycée Polyvalent Antonin Artaud",
            "code_ministere_tutelle": "06",
        },
        "est_boursier": True,
        "echelon_bourse": 1,
    },
    "links": {},
    "meta": {},
}

# docs/api/api-particulier.md §Responses, "Verbatim v3 staging 200" (200.yaml).
SCOLARITE_V3_200 = {
    "data": {
        "identite": {
            "nom": "Martin",
            "prenom": "Justine",
            "sexe": "F",
            "date_naissance": "2000-01-20",
        },
        "module_elementaire_formation": {
            "code_mef_stat": "211324099991",
            "libelle": "1CAP1 STAFFEUR ORNEMANISTE",
        },
        "annee_scolaire": "2022-2023",
        "est_scolarise": True,
        "statut_eleve": {"code": "ST", "libelle": "Scolaire"},
        "etablissement": {"code_uai": "0210015C", "code_ministere_tutelle": "06"},
        "est_boursier": True,
        "echelon_bourse": 1,
    },
    "links": {},
    "meta": {},
}

# docs/api/api-particulier.md §Staging identities: the staging case FERRAND ELISE answers
# est_scolarise false with statut "NS" (not in the documented list:
# docs/api/api-particulier.md §Responses). Constructed around the quoted fields.
SCOLARITE_NOT_ENROLLED_NS = {
    "data": {
        "identite": {
            "nom": "FERRAND",
            "prenom": "ELISE",
            "sexe": "F",
            "date_naissance": "2004-09-27",
        },
        "module_elementaire_formation": {"code_mef_stat": None, "libelle": None},
        "annee_scolaire": "2025-2026",
        "est_scolarise": False,
        "statut_eleve": {"code": "NS", "libelle": "Non scolarisé"},
        "etablissement": {"code_uai": "0130001F", "code_ministere_tutelle": "06"},
        "est_boursier": False,
        "echelon_bourse": None,
    },
    "links": {},
    "meta": {},
}

# docs/api/api-particulier.md §Errors: the table's verbatim bodies, with their HTTP status.
SCOLARITE_ERRORS = {
    "00101": (
        401,
        '{"errors":[{"code":"00101","title":"Interdit","detail":"Votre token n\'est pas valide '
        'ou n\'est pas renseigné","source":{"parameter":"token"},"meta":{}}]}',
    ),
    "00103": (
        401,
        '{"errors":[{"code":"00103","title":"Jeton expiré","detail":"Votre token est expiré. '
        'Vous devez refaire une demande","source":{"parameter":"token"},"meta":{}}]}',
    ),
    "00105": (
        401,
        '{"errors":[{"code":"00105","title":"Jeton sur liste noire","detail":"Votre jeton est '
        "sur liste noire, celui-ci a certainement été divulgué sur un canal non-sécurisé. Vous "
        "pouvez trouver un jeton valide sur votre espace personnel: "
        'https://entreprise.api.gouv.fr/compte","source":{"parameter":"token"},"meta":{}}]}',
    ),
    "00100": (
        403,
        '{"errors":[{"code":"00100","title":"Privilèges insuffisants","detail":"Votre token est '
        "valide mais vos privilèges sont insuffisants. Listez vos privilèges sur /api/introspect"
        '","source":{"parameter":"token"},"meta":{}}]}',
    ),
    "30003": (
        404,
        '{"errors":[{"code":"30003","title":"Entité non trouvée","detail":"Aucun eleve n\'a pu '
        'etre trouve avec les criteres de recherche fournis","source":null,'
        '"meta":{"provider":"MEN"}}]}',
    ),
    "00015": (
        409,
        '{"errors":[{"code":"00015","title":"Conflit","detail":"Une requête associé à votre '
        "jeton est déjà en cours de traitement pour ces paramètres. Veuillez attendre la fin du "
        'traitement avant d\'effectuer une nouvelle requête.","source":null,"meta":{}}]}',
    ),
    "00419": (
        422,
        '{"errors":[{"code":"00419","title":"Entité non traitable","detail":"Les paramètres '
        "codeEtablissement et périmètre (codesBcnRegions/codesBcnDepartements) sont mutuellement "
        'exclusifs","source":null,"meta":{}}]}',
    ),
    "00203": (
        422,
        '{"errors":[{"code":"00203","title":"Entité non traitable","detail":"Le paramètre '
        'recipient est obligatoire","source":{"parameter":"recipient"},"meta":{}}]}',
    ),
    "00429": (
        429,
        '{"errors":[{"code":"00429","title":"Trop de requêtes","detail":"Vous avez effectué trop '
        'de requêtes","source":null,"meta":{}}]}',
    ),
    "30999": (
        502,
        '{"errors":[{"code":"30999","title":"Erreur inconnue du fournisseur de données","detail":'
        '"La réponse retournée par le fournisseur de données est invalide et inconnue de notre '
        "service. L'équipe technique a été notifiée de cette erreur pour investigation.\","
        '"source":null,"meta":{"provider":"MEN"}}]}',
    ),
    "30002": (
        504,
        '{"errors":[{"code":"30002","title":"Intermédiaire hors-délai","detail":"Temps '
        'd’attente d’une réponse du fournisseur de données écoulé.","source":null,'
        '"meta":{"provider":"MEN"}}]}',
    ),
    "30001": (
        504,
        '{"errors":[{"code":"30001","title":"Service non disponible","detail":"Service du '
        'fournisseur de données temporairement indisponible ou en maintenance.","source":null,'
        '"meta":{"provider":"MEN"}}]}',
    ),
    "00501": (
        504,
        '{"errors":[{"code":"00501","title":"Erreur réseau","detail":"Problème de connexion au '
        "serveur distant. L'erreur peut venir soit du fournisseur, soit de API Entreprise. Il "
        's\'agit souvent d\'une erreur temporaire.","source":null,"meta":{"retry_in":10}}]}',
    ),
    "30004": (
        504,
        '{"errors":[{"code":"30004","title":"Erreur de résolution DNS","detail":"Problème de '
        'résolution DNS de l\'adresse du serveur","source":null,"meta":{"provider":"MEN"}}]}',
    ),
}

# docs/api/api-particulier.md §Errors, the other 422 codes of the same API: only the titles
# are quoted; the bodies are built on the documented envelope.
SCOLARITE_OTHER_422 = {
    "00366": "Un ou plusieurs paramètres de civilité ne sont pas correctement formatés",
    "00427": "Le sexe de l'état civil est manquant",
}

# docs/api/api-particulier.md §Errors: the staging fixture for the 404 uses the accented text
# -- same code, other detail.
SCOLARITE_404_STAGING = {
    "errors": [
        {
            "code": "30003",
            "title": "Entité non trouvée",
            "detail": "Aucun élève n'a pu être trouvé avec les critères de recherche fournis.",
            "source": None,
            "meta": {"provider": "MEN"},
        }
    ]
}


def scolarite_error(code: str, title: str, detail: str) -> dict:
    return {
        "errors": [{"code": code, "title": title, "detail": detail, "source": None, "meta": {}}]
    }


# --- CVEC (docs/api/cvec.md) -----------------------------------------------------------------

# docs/api/cvec.md §Responses, "Illustrative 200 (constructed from the schema, not a real answer)".
CVEC_200 = {
    "nom": "DUPONT",
    "nomUsage": "",
    "prenom": "CAMILLE",
    "sexe": "2",
    "date_naissance": "01/02/2005",
    "ine": "123456789AB",
    "crous": "Crous de Lyon",
    "etat": {"code": "75", "libelle": "..."},
    "exoneration": {"active": False, "motif": ""},
}

# docs/api/cvec.md §Responses, CVEC-2022 CertificateDto: camelCase dateNaissance, no nomUsage
# (constructed).
CVEC_2022_200 = {
    "nom": "DUPONT",
    "prenom": "CAMILLE",
    "sexe": "F",
    "dateNaissance": "2005-02-01",
    "ine": "123456789AB",
    "crous": "Crous de Lyon",
    "etat": {"code": 71, "libelle": "Attestation valide, boursier"},
    "exoneration": {"active": True, "motif": "Boursier"},
}

# docs/api/cvec.md §Errors: CertificateErrorDto {code, message}; no example body was found [?]
# (constructed).
CVEC_400 = {"code": "400", "message": "L'attestation n'a pas été trouvée."}
CVEC_404 = {"code": "404", "message": "Le paramètre code est manquant."}


# --- Certif Info (docs/api/certifinfo.md; every shape is [V-3p] or [?]) ----------------------

# docs/api/certifinfo.md §Fields: search item fields of the third-party client, under the
# `data` array of docs/api/certifinfo.md §Endpoints.
CERTIFINFO_SEARCH = {
    "data": [
        {
            "certifinfo_code": 108536,
            "certifinfo_intitule": "Licence professionnelle métiers de l'informatique",
            "niveau_europeen_code": "6",
            "rncp_code": "RNCP30086",
            "rs_code": [],
        }
    ],
    "totalResult": 1,
}

# docs/api/certifinfo.md §Fields: detail fields of the third-party client.
CERTIFINFO_DETAIL_CLIENT = {
    "certifinfo_code": 108536,
    "certifinfo_intitule": "Licence professionnelle métiers de l'informatique",
    "niveau_europeen_libelle": "Niveau 6",
    "etat_libelle": "Active",
    "rncp": [{"code": "RNCP30086", "libelle": "Licence pro", "actif": True}],
    "rs": [],
    "rome": [{"code": "M1805", "libelle": "Études et développement informatique"}],
    "nsf": [{"code": "326", "libelle": "Informatique"}],
    "certificateurs": [{"libelle": "Ministère de l'Enseignement supérieur"}],
    "acc_fi": True,
    "acc_ca": True,
}

# docs/api/certifinfo.md §Fields: catalogue names `intitule`, `niveau_europeen {code, libelle}`,
# `archive`.
CERTIFINFO_DETAIL_CATALOGUE = {
    "id": 54321,
    "intitule": "BTS Services informatiques aux organisations",
    "niveau_europeen": {"code": 5, "libelle": "Niveau 5"},
    "archive": False,
    "rncp": "RNCP35340",
    "rs": None,
}

# An archived certification, catalogue names, level as a bare integer.
CERTIFINFO_DETAIL_ARCHIVED = {
    "id": 11111,
    "intitule": "Titre ancien",
    "niveau_europeen": 4,
    "archive": True,
    "rncp": "RNCP1234",
}

# An archived certification with its registration history: `rncp_historique` is named by the
# catalogue [V-3p: docs/api/certifinfo.md §Fields], its items' fields are not documented [?];
# the France compétences RNCP names (`date_fin_enregistrement`, `actif`) are assumed
# (constructed).
CERTIFINFO_DETAIL_HISTORY = {
    "certifinfo_code": 90009,
    "certifinfo_intitule": "BTS Assistant de manager",
    "niveau_europeen_libelle": "Niveau 5",
    "etat_libelle": "Archivée",
    "rncp": [{"code": "RNCP24424", "libelle": "BTS Assistant de manager", "actif": False}],
    "rncp_historique": [
        {"code": "RNCP4028", "date_fin_enregistrement": "31/12/2014", "actif": False},
        {"code": "RNCP24424", "date_fin_enregistrement": "31/12/2019", "actif": False},
    ],
}

# FastAPI's 422 body [I: docs/api/certifinfo.md §Errors].
CERTIFINFO_422 = {
    "detail": [{"loc": ["query", "id"], "msg": "value is not a valid integer", "type": "x"}]
}


# --- Covoiturage (docs/api/covoiturage.md) ---------------------------------------------------

# docs/api/covoiturage.md §Responses: the spec's bare object (values are the spec's examples).
COVOITURAGE_CERTIFICATE = {
    "type": "ok",
    "uuid": "9415300a-7a51-4296-96d1-68636e46485d",
    "tz": "Europe/Paris",
    "start_at": "2020-01-01T00:00:00+0100",
    "end_at": "2020-12-31T00:00:00+0100",
    "created_at": "2021-03-14T10:12:02.119Z",
    "identity": {"uuid": "1b37ff76-dac6-44b0-ba78-9015a8a198fc"},
    "operator": {"_id": 1, "uuid": "0f9e4f0e-0000-4000-8000-000000000001", "name": "Opérateur"},
    "positions": [],
    "driver": {
        "total": {"trips": 3, "week_trips": 2, "weekend_trips": 1, "distance": 12000, "amount": 0},
        "trips": [],
    },
    "passenger": {
        "total": {"trips": 0, "week_trips": 0, "weekend_trips": 0, "distance": 0, "amount": 0},
        "trips": [],
    },
}


def covoiturage_wrapped(certificate: dict) -> dict:
    """docs/api/covoiturage.md §Responses, "The wire format of the code": the JSON-RPC envelope."""
    return {"jsonrpc": "2.0", "id": 1, "result": {"meta": None, "data": certificate}}


# docs/api/covoiturage.md §Errors, verbatim.
COVOITURAGE_401 = {
    "id": 1,
    "jsonrpc": "2.0",
    "error": {"data": "Unauthorized application", "code": -32501, "message": "Unauthorized Error"},
}
COVOITURAGE_403 = {
    "id": 1,
    "jsonrpc": "2.0",
    "error": {"data": "Invalid permissions", "code": -32503, "message": "Forbidden Error"},
}
COVOITURAGE_404_SPEC = {"code": 404, "error": "Not found"}
COVOITURAGE_404_RPC = {
    "jsonrpc": "2.0",
    "id": 1,
    "error": {
        "data": "Certificate not found: null - 9415300a-7a51-4296-96d1-68636e46485d",
        "code": -32504,
        "message": "Not found",
    },
}
COVOITURAGE_400_RPC = {
    "jsonrpc": "2.0",
    "id": 1,
    "error": {"data": "uuid", "code": -32602, "message": "Invalid params"},
}
COVOITURAGE_503 = {"code": 503, "error": "Service Unavailable"}
# docs/api/covoiturage.md §Rate limits, verbatim.
COVOITURAGE_429 = {"error": {"code": 429, "message": "Too many requests"}}
